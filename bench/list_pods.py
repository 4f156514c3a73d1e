"""Serve 10,000 pods and time `kubectl get pods -A -o json` against a raw LIST of the same pods.

    python bench/list_pods.py [--pods 10000] [--runs 3]

The LIST must not be the bottleneck: the ratio printed last is kubectl's time over the
server's, measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.server import Sandbox, SandboxThread


def running_pods(runner: SandboxThread) -> int:
    store = runner.sandbox.store  # type: ignore[union-attr]
    rt = store.rt("v1", "Pod")
    return runner.run(lambda: sum(1 for e in store.entries(rt) if e.obj.get("status", {}).get("phase") == "Running"))


def get(sb: Sandbox, path: str) -> tuple[float, bytes]:
    url = urlsplit(sb.api_url)
    token = sb.token
    start = time.perf_counter()
    conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=120, context=sb.cert.client_context())
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    body = conn.getresponse().read()
    conn.close()
    return time.perf_counter() - start, body


def paged_list(sb: Sandbox) -> float:
    """LIST in pages of 500, as kubectl asks for them."""
    total, cont = 0.0, ""
    while True:
        seconds, body = get(sb, "/api/v1/pods?limit=500" + (f"&continue={quote(cont)}" if cont else ""))
        total += seconds
        cont = orjson.loads(body)["metadata"].get("continue", "")
        if not cont:
            return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    runner = SandboxThread("empty", extra_pods=args.pods, clock_speed=100.0)
    with runner as sb, tempfile.TemporaryDirectory() as tmp:
        deadline = time.monotonic() + 600
        while running_pods(runner) < args.pods:
            if time.monotonic() > deadline:
                print("the pods did not all start within 10 minutes", file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(f"{args.pods} pods Running {time.perf_counter() - t0:.1f}s after start")
        kubeconfig = sb.write_kubeconfig(Path(tmp) / "kubeconfig")
        argv = [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(Path(tmp) / "cache"),
            "get",
            "pods",
            "-A",
            "-o",
            "json",
        ]
        kubectl_s, list_s, paged_s = [], [], []
        size = printed = 0
        for _ in range(args.runs):
            start = time.perf_counter()
            out = subprocess.run(argv, capture_output=True, check=True)
            kubectl_s.append(time.perf_counter() - start)
            printed = len(out.stdout)
            seconds, body = get(sb, "/api/v1/pods")
            list_s.append(seconds)
            size = len(body)
            paged_s.append(paged_list(sb))
        k, r, p = statistics.median(kubectl_s), statistics.median(list_s), statistics.median(paged_s)
        print(f"kubectl get pods -A -o json : {k * 1000:8.0f} ms  ({printed / 1e6:.1f} MB printed)")
        print(f"raw LIST /api/v1/pods       : {r * 1000:8.0f} ms  ({size / 1e6:.1f} MB)")
        print(f"raw LIST in pages of 500    : {p * 1000:8.0f} ms")
        print(f"kubectl / raw LIST          : {k / r:8.1f}x")
        print(f"kubectl / paged LIST        : {k / p:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
