"""`pitstop --playbook all -o json` against `kubectl get pods -A -o json` on the same 10,000-pod sandbox.

    python bench/playbooks.py [--pods 10000] [--runs 3]

Both run as fresh processes (start-up included), in the same run on the same machine;
the ratio printed last is pitstop's time over kubectl's. Target: within 1.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.server import SandboxThread  # noqa: E402


def running(runner: SandboxThread) -> int:
    store = runner.sandbox.store  # type: ignore[union-attr]
    rt = store.rt("v1", "Pod")
    return runner.run(lambda: sum(1 for e in store.entries(rt) if e.obj.get("status", {}).get("phase") == "Running"))


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start, proc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runner = SandboxThread("empty", extra_pods=args.pods, clock_speed=100.0)
    with runner as sb, tempfile.TemporaryDirectory() as tmp:
        deadline = time.monotonic() + 600
        while running(runner) < args.pods:
            if time.monotonic() > deadline:
                print("the pods did not all start within 10 minutes", file=sys.stderr)
                return 1
            time.sleep(0.5)
        kubeconfig = str(sb.write_kubeconfig(Path(tmp) / "kubeconfig"))
        repo = Path(tmp) / "repo"
        repo.mkdir()
        env = {**os.environ, "XDG_STATE_HOME": str(Path(tmp) / "state"), "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        kubectl = [
            "kubectl",
            "--kubeconfig",
            kubeconfig,
            "--cache-dir",
            str(Path(tmp) / "kc"),
            "get",
            "pods",
            "-A",
            "-o",
            "json",
        ]
        pitstop = [
            sys.executable,
            "-m",
            "tui.cli",
            "--kubeconfig",
            kubeconfig,
            "--repo",
            str(repo),
            "--playbook",
            "all",
            "-o",
            "json",
        ]
        k_times, p_times = [], []
        for _ in range(args.runs):
            k, kp = timed(kubectl, env)
            p, pp = timed(pitstop, env)
            if kp.returncode != 0 or pp.returncode not in (0, 1):
                print(kp.stderr.decode()[-500:], pp.stderr.decode()[-500:], file=sys.stderr)
                return 1
            k_times.append(k)
            p_times.append(p)
        k, p = statistics.median(k_times), statistics.median(p_times)
        print(f"{args.pods} pods Running")
        print(f"kubectl get pods -A -o json      : {k * 1000:8.0f} ms")
        print(f"pitstop --playbook all -o json   : {p * 1000:8.0f} ms")
        print(f"pitstop / kubectl                : {p / k:8.2f}x  (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
