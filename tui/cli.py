"""The `pitstop` command line: one parser, and the one place that maps outcomes to exit codes."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"pitstop: {message}; run 'pitstop --help' for the options.\n")


def _cluster_flags(p: argparse.ArgumentParser, sub: bool = False) -> None:
    # on a subcommand, flags given before it (`pitstop --kubeconfig X undo ID`) must not be reset to None
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)", **d)
    p.add_argument("--context", help="kubeconfig context to use (default: the current context)", **d)
    p.add_argument("-n", "--namespace", help="only this namespace (default: every namespace)", **d)
    p.add_argument(
        "--repo", type=Path, help="repository with the manifests and migrations (default: the current directory)", **d
    )


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pitstop", description="A console for the engineer on call when a deploy breaks.")
    _cluster_flags(p)
    p.add_argument("--demo", action="store_true", help="run on the embedded practice cluster with seeded incidents")
    p.add_argument("--playbook", metavar="ID[,ID...]|all", help="headless: run these playbooks, print a report, exit")
    p.add_argument("-o", "--output", choices=("text", "json", "junit", "sarif"), default="text", help="report format")
    p.add_argument("--fail-on", choices=("warning", "error"), default="error", help="exit 1 at or above this severity")
    p.add_argument("--apply", action="store_true", help="apply the first fix of every finding (needs --yes)")
    p.add_argument("--yes", action="store_true", help="confirm --apply without asking")
    p.add_argument(
        "--only",
        metavar="FINDING_ID[,ID...]",
        help="with --apply or --dry-run: fix only these findings (ids as the report prints them)",
    )
    p.add_argument("--confirm-context", metavar="NAME", help="type the context name to apply in a production context")
    p.add_argument("--dry-run", action="store_true", help="send every fix as a server-side dry run; change nothing")
    p.add_argument("--read-only", action="store_true", help="never write to the cluster or the repository")
    p.add_argument("--list-playbooks", action="store_true", help="list the available playbooks and exit")
    p.add_argument(
        "--generate-migration-job",
        metavar="DEPLOYMENT",
        help="write a migration Job derived from this live Deployment (in --namespace, default: the context's) "
        "into the repository and print its diff; --dry-run prints the diff only. Exit 1 when a Secret/ConfigMap "
        "key or object it references is missing",
    )
    p.add_argument(
        "--command",
        dest="job_command",
        metavar='"CMD ARG..."',
        help="with --generate-migration-job: the Job's command as one quoted string, split like a shell "
        'would, never run by one (default: "python manage.py migrate --noinput"); '
        'e.g. --command "python manage.py migrate --database=replica"',
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds each playbook may take (default 30)")
    p.add_argument("--verify-timeout", type=float, default=90.0, help="seconds to wait for an applied fix to show")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    s = sub.add_parser("sandbox", help="serve the practice cluster in the foreground")
    s.add_argument("--scenario", default="demo", help="scenario name (demo, empty) or path to a scenario YAML")
    s.add_argument("--port", type=int, default=0, help="API server port (default: any free port)")
    s.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig (default: the pitstop state dir)")
    s.add_argument("--pods", type=int, default=0, help="add N healthy Running pods (and nodes to hold them)")
    s.add_argument("--clock-speed", type=float, default=10.0, help="simulated seconds per real second (default 10)")
    u = sub.add_parser("undo", help="undo an applied fix by its journal id")
    u.add_argument("journal_id")
    _cluster_flags(u, sub=True)
    u.add_argument(
        "--confirm-context",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="type the context name to undo in a production context",
    )
    sub.add_parser("journal", help="list what pitstop applied and undid")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        return _serve(args.scenario, args.port, args.kubeconfig, args.pods, args.clock_speed)
    if args.command == "journal":
        return _journal()
    if args.command == "undo":
        return _with_cluster(args, _undo)
    if args.list_playbooks:
        return _list_playbooks()
    if args.generate_migration_job is not None:
        if args.playbook:
            return _fail("--generate-migration-job and --playbook are two separate runs; pass one of them")
        return _with_cluster(args, _generate_job)
    if args.job_command is not None:
        return _fail("--command gives the command of --generate-migration-job; add --generate-migration-job DEPLOYMENT")
    if args.playbook:
        return _with_cluster(args, _headless)
    return _with_cluster(args, _console)


def _console(args: argparse.Namespace, config: Any, repo: Path) -> int:
    """The full-screen console on the resolved cluster and repository."""
    from diagnostics.github import settings as github_settings
    from tui.app import PitstopApp

    ext = config.extensions.get("pitstop.dev/sandbox")
    app = PitstopApp(
        config,
        repo=repo,
        namespace=args.namespace,
        kubeconfig=args.kubeconfig,
        read_only=args.read_only,
        pipelines=github_settings(repo, sandbox_extension=ext),
    )
    code = app.run()
    return int(code or 0)


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"pitstop: {message}", file=sys.stderr)
    return code


def _list_playbooks() -> int:
    from playbooks.catalog import all_playbooks

    for pb in all_playbooks().values():
        print(f"{pb.id:<22} {pb.title}")
    return EXIT_OK


def _with_cluster(args: argparse.Namespace, action: Any) -> int:
    """Resolve the cluster (the demo sandbox or a kubeconfig) and the repository, then run `action`."""
    from diagnostics.kubeconfig import ConfigError, load

    with ExitStack() as stack:
        kubeconfig, repo = args.kubeconfig, args.repo
        args.playbook = getattr(args, "playbook", None)
        if getattr(args, "demo", False):
            from sandbox.server import SandboxThread
            from sandbox.workspace import copy_repo

            runner = SandboxThread("demo", clock_speed=10.0 if args.playbook is None else 50.0)
            sandbox = stack.enter_context(runner)
            if not runner.call(sandbox.settled()):
                print("pitstop: the demo cluster is still starting; diagnosing what it shows so far", file=sys.stderr)
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pitstop-demo-")))
            kubeconfig = args.kubeconfig = str(sandbox.write_kubeconfig(tmp / "kubeconfig"))
            if repo is None:
                repo = copy_repo(sandbox.scenario)  # kept under the state dir: file fixes stay inspectable
                print(f"pitstop: demo repository at {repo}", file=sys.stderr)
        repo = (repo or Path.cwd()).resolve()
        if not repo.is_dir():
            return _fail(f"--repo {repo} is not a directory; pass the repository's path")
        try:
            config = load(kubeconfig, args.context, args.namespace)
        except ConfigError as e:
            return _fail(str(e))
        return int(action(args, config, repo))
    return EXIT_OK


def _production_guard(args: argparse.Namespace, config: Any) -> int | None:
    if config.production and args.confirm_context != config.context:
        return _fail(
            f"context {config.context} is a production context; pass --confirm-context {config.context} to change it"
        )
    return None


def _headless(args: argparse.Namespace, config: Any, repo: Path) -> int:
    from playbooks import headless
    from playbooks.catalog import UnknownPlaybook, select

    try:
        chosen = tuple(select(args.playbook))
    except UnknownPlaybook as e:
        return _fail(str(e))
    if args.apply and args.read_only:
        return _fail("--apply and --read-only contradict each other; drop one")
    if args.apply and not args.yes and not args.dry_run:
        return _fail("--apply changes the cluster and the repository; add --yes to confirm, or review with --dry-run")
    if args.apply and not args.dry_run and (code := _production_guard(args, config)) is not None:
        return code
    only = frozenset(i.strip() for i in (args.only or "").split(",") if i.strip())
    if args.only is not None and not (args.apply or args.dry_run):
        return _fail("--only picks which findings --apply fixes; add --apply --yes (or --dry-run)")
    opts = headless.Options(
        chosen,
        args.output,
        args.fail_on,
        args.apply,
        args.dry_run,
        args.read_only,
        repo,
        args.namespace,
        args.timeout,
        args.verify_timeout,
        only=only,
    )
    return asyncio.run(headless.run(config, opts))


def _undo(args: argparse.Namespace, config: Any, repo: Path) -> int:
    from diagnostics.apply import Applier
    from diagnostics.journal import Journal
    from diagnostics.kube import KubeClient, Unreachable

    if (code := _production_guard(args, config)) is not None:
        return code

    async def go() -> int:
        try:
            async with KubeClient(config) as client:
                result = await Applier(client, Journal(), config.context, repo).undo(args.journal_id)
        except Unreachable as e:
            return _fail(str(e), EXIT_UNREACHABLE)
        if result.result != "applied":
            return _fail(result.message, EXIT_FINDINGS)
        print(f"undone: {result.message} (journal id {result.journal_id})")
        return EXIT_OK

    return asyncio.run(go())


def _generate_job(args: argparse.Namespace, config: Any, repo: Path) -> int:
    """`--generate-migration-job`: check the flags, then generate, show and (unless --dry-run) write the Job."""
    import shlex

    from diagnostics import jobgen

    name = args.generate_migration_job
    namespace = args.namespace or config.namespace
    if not jobgen.is_name(name):
        return _fail(
            f'"{name}" is not a valid Deployment name (RFC 1123: lowercase letters, digits, "-" and "."); check it'
        )
    command: tuple[str, ...] = jobgen.DEFAULT_COMMAND
    if args.job_command is not None:
        try:
            command = tuple(shlex.split(args.job_command))
        except ValueError as e:
            return _fail(f"--command {args.job_command!r} does not split into arguments ({e}); check its quotes")
        if not command:
            return _fail(
                '--command is empty; give the program and its arguments, e.g. --command "python manage.py migrate"'
            )
    write = not (args.dry_run or args.read_only)
    return asyncio.run(
        _generate(config, repo, name, namespace, command, write, "--read-only" if args.read_only else "dry run")
    )


async def _generate(
    config: Any, root: Path, name: str, namespace: str, command: tuple[str, ...], write: bool, why_not: str
) -> int:
    """Read the Deployment and what its Job would reference, generate, print the diff, write through the journal."""
    from diagnostics import jobgen
    from diagnostics.apply import Applier
    from diagnostics.cache import load_snapshot
    from diagnostics.journal import Journal, JournalError
    from diagnostics.kube import KubeClient, KubeError, Unreachable
    from diagnostics.repo import Repository, RepositoryError

    try:
        async with KubeClient(config) as client:
            try:
                deployment = await client.get("apps/v1", "Deployment", namespace, name)
            except KubeError as e:
                if e.not_found:
                    return _fail(jobgen.not_found(name, namespace), EXIT_USAGE)
                if e.forbidden:
                    return _fail(
                        f"reading Deployment {namespace}/{name} is forbidden for context {config.context}; "
                        "ask for get on deployments there",
                        EXIT_UNREACHABLE,
                    )
                return _fail(f"could not read Deployment {namespace}/{name}: {e.message}", EXIT_UNREACHABLE)
            snapshot = await load_snapshot(client, jobgen.KINDS, namespace)
    except Unreachable as e:
        return _fail(str(e), EXIT_UNREACHABLE)
    try:
        repo = Repository(root)
    except RepositoryError as e:
        return _fail(str(e))
    result = jobgen.generate(deployment, snapshot, repo, command)
    if isinstance(result, jobgen.Refused):
        for problem in result.problems:
            print(f"pitstop: {problem}", file=sys.stderr)
        print(f"pitstop: no Job written for {result.deployment}", file=sys.stderr)
        return EXIT_FINDINGS
    for note in result.notes:
        print(f"pitstop: {note}", file=sys.stderr)
    if not result.diff:
        print(f"pitstop: {result.path} already holds this Job; nothing to write", file=sys.stderr)
        return EXIT_OK
    print(result.diff, end="")
    if not write:
        print(f"pitstop: {why_not}: {result.path} not written", file=sys.stderr)
        return EXIT_OK
    try:
        done = await Applier(None, Journal(), config.context, root).apply(result.finding(), result.fix)
    except JournalError as e:
        return _fail(str(e), EXIT_USAGE)
    if done.result != "applied":
        return _fail(done.message, EXIT_FINDINGS)
    print(
        f"pitstop: {done.message} (journal id {done.journal_id}; pitstop undo {done.journal_id} takes it back); "
        f"run it with kubectl apply -f {result.path} -n {namespace}",
        file=sys.stderr,
    )
    return EXIT_OK


def _journal() -> int:
    from diagnostics.journal import Journal

    for e in Journal().history():
        target = e.get("target") or {}
        where = target.get("path") or f"{target.get('kind')} {target.get('namespace') or ''}/{target.get('name')}"
        print(
            f"{e['id']}  {e.get('time', '')[:19]}  {e.get('action', ''):<5} {e.get('phase', ''):<11} {where}  {e.get('title', '')}"
        )
    return EXIT_OK


def _serve(scenario_name: str, port: int, kubeconfig: Path | None, pods: int, speed: float) -> int:
    from sandbox import scenario as scenarios
    from sandbox.workspace import copy_repo, state_dir

    if pods < 0 or not (0 <= port <= 65535) or speed <= 0:
        return _fail("--pods, --port and --clock-speed must be non-negative numbers (port up to 65535)")
    try:
        scenario = scenarios.load(scenario_name)
    except scenarios.ScenarioError as e:
        return _fail(str(e))
    path = kubeconfig or state_dir() / "sandbox" / "kubeconfig"
    try:
        return asyncio.run(_run(scenario, port, path, pods, speed, copy_repo))
    except OSError as e:
        return _fail(f"could not start the sandbox ({e.strerror or e}); pick another --port or free this one")
    except scenarios.ScenarioError as e:
        return _fail(str(e))


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
