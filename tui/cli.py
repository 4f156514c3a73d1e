"""The `pitstop` command line: one parser, one place that maps outcomes to exit codes."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"pitstop: {message}; run 'pitstop --help' for the options.\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pitstop", description="A console for the engineer on call when a deploy breaks.")
    p.add_argument("--demo", action="store_true", help="run on the embedded practice cluster with seeded incidents")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    s = sub.add_parser("sandbox", help="serve the practice cluster in the foreground")
    s.add_argument("--scenario", default="demo", help="scenario name (demo, empty) or path to a scenario YAML")
    s.add_argument("--port", type=int, default=0, help="API server port (default: any free port)")
    s.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig (default: the pitstop state dir)")
    s.add_argument("--pods", type=int, default=0, help="add N healthy Running pods (and nodes to hold them)")
    s.add_argument("--clock-speed", type=float, default=10.0, help="simulated seconds per real second (default 10)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        return _serve(args.scenario, args.port, args.kubeconfig, args.pods, args.clock_speed)
    if args.demo:
        return _serve("demo", 0, None, 0, 10.0)
    _parser().print_help()
    return EXIT_OK


def _serve(scenario_name: str, port: int, kubeconfig: Path | None, pods: int, speed: float) -> int:
    from sandbox import scenario as scenarios
    from sandbox.workspace import copy_repo, state_dir

    if pods < 0 or not (0 <= port <= 65535) or speed <= 0:
        print(
            "pitstop: --pods, --port and --clock-speed must be non-negative numbers (port up to 65535).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        scenario = scenarios.load(scenario_name)
    except scenarios.ScenarioError as e:
        print(f"pitstop: {e}", file=sys.stderr)
        return EXIT_USAGE
    path = kubeconfig or state_dir() / "sandbox" / "kubeconfig"
    try:
        return asyncio.run(_run(scenario, port, path, pods, speed, copy_repo))
    except OSError as e:
        print(
            f"pitstop: could not start the sandbox ({e.strerror or e}); pick another --port or free this one.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except scenarios.ScenarioError as e:
        print(f"pitstop: {e}", file=sys.stderr)
        return EXIT_USAGE


async def _run(scenario, port, path, pods, speed, copy_repo) -> int:  # type: ignore[no-untyped-def]
    from sandbox.server import CONTEXT, Sandbox

    sb = Sandbox(scenario, port=port, extra_pods=pods, clock_speed=speed)
    await sb.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        sb.write_kubeconfig(path)
        repo = copy_repo(scenario)
        hosts = ", ".join(sorted(scenario.registries.hosts)) or "none declared"
        print(f"pitstop sandbox: scenario '{scenario.name}' is running")
        print(f"  API server   {sb.api_url}")
        print(f"  registries   {sb.registry_url}/<host>/v2/  ({hosts})")
        print(f"  GitHub API   {sb.github_url}  (GITHUB_API_URL; token in the kubeconfig)")
        print(f"  kubeconfig   {path}  (context {CONTEXT})")
        if repo is not None:
            print(f"  repository   {repo}")
        print(f"\n  kubectl --kubeconfig {path} get pods -A\n\nPress Ctrl-C to stop.", flush=True)
        await stop.wait()
    finally:
        await sb.stop()
    print("pitstop sandbox: stopped.")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
