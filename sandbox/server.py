"""The sandbox as a whole: store, controllers, and the API, registry and GitHub listeners.

`Sandbox` runs on the caller's event loop (the `pitstop sandbox` command); `SandboxThread`
runs one on a background thread for tests and `pitstop --demo`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import math
import os
import secrets
import threading
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from sandbox import scenario as scenarios
from sandbox.apiserver import API_KEY, Settings, make_api_app
from sandbox.clock import Clock
from sandbox.controllers.base import Context, Manager
from sandbox.errors import APIError
from sandbox.events import Recorder
from sandbox.logs import LogBook
from sandbox.resources import by_kind, by_path
from sandbox.scenario import NodeSpec, Scenario
from sandbox.store import Store
from sandbox.tls import make_serving_cert

T = TypeVar("T")
CONTEXT = "pitstop-sandbox"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SEEDED_AGE = timedelta(hours=26)  # scenario objects look as if they had been running for a day


class Sandbox:
    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        registry_port: int = 0,
        github_port: int = 0,
        clock_speed: float = 10.0,
        extra_pods: int = 0,
        token: str | None = None,
        bookmark_interval: float = 5.0,
        watch_window: int = 200_000,
        forbidden: tuple[str, ...] = (),
    ) -> None:
        self.scenario = scenario
        self.host, self._ports = host, (port, registry_port, github_port)
        self.clock = Clock(clock_speed)
        self.store = Store(self.clock, window=watch_window)
        self.logs = LogBook(self.clock)
        self.recorder = Recorder(self.store)
        self.ctx = Context(self.store, self.clock, self.recorder, self.logs, scenario)
        self.extra_pods = extra_pods
        self.token = token or "sandbox-" + secrets.token_hex(16)
        self.github_token = "ghp_sandbox" + secrets.token_hex(12)
        self.bookmark_interval = bookmark_interval
        self.forbidden = frozenset(forbidden) | frozenset(scenario.forbidden)
        self.manager: Manager | None = None
        self.cert = make_serving_cert(host)
        self._runners: list[web.AppRunner] = []
        self.api_url = self.registry_url = self.github_url = ""

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        from sandbox.controllers import build as build_controllers

        api_runner = await self._serve(None, self._ports[0], tls=True)
        self.api_url = f"https://{self.host}:{_port_of(api_runner)}"
        api_runner.app[API_KEY].settings = Settings(
            token=self.token,
            bookmark_interval=self.bookmark_interval,
            server_address=self.api_url.split("//")[1],
            forbidden=self.forbidden,
        )
        from sandbox.github import make_github_app
        from sandbox.registry import make_registry_app

        reg_runner = await self._serve(make_registry_app(self.scenario.registries, self.clock), self._ports[1])
        self.registry_url = f"http://{self.host}:{_port_of(reg_runner)}"
        gh_runner = await self._serve(
            make_github_app(self.scenario.github, self.clock, self.github_token), self._ports[2]
        )
        self.github_url = f"http://{self.host}:{_port_of(gh_runner)}"
        self.manager = Manager(self.ctx, build_controllers(self.ctx))
        self._seed()
        self.manager.start()

    async def _serve(self, app: web.Application | None, port: int, tls: bool = False) -> web.AppRunner:
        if app is None:
            app = make_api_app(
                self.store, self.logs, Settings(token=self.token, bookmark_interval=self.bookmark_interval)
            )
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        ssl_context = self.cert.server_context() if tls else None
        site = web.TCPSite(runner, self.host, port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        self._runners.append(runner)
        return runner

    async def stop(self) -> None:
        self.store.close_watches()
        if self.manager is not None:
            await self.manager.stop()
        for r in reversed(self._runners):
            await r.cleanup()
        self._runners.clear()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the controllers have nothing queued (for tests and benchmarks)."""
        if self.manager is not None:
            await self.manager.idle(timeout)

    async def settled(self, timeout: float = 30.0) -> bool:
        """Wait until every pod shows where it stands: running, finished, or stuck with a reason.

        What an operator would meet on a cluster that has been up a while; False on timeout.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        pods = self.store.rt("v1", "Pod")
        while loop.time() < end:
            await self.settle(max(0.0, end - loop.time()))
            if all(_pod_settled(p) for p in self.store.list(pods)):
                return True
            await asyncio.sleep(0.05)
        return False

    # --- seeding ---------------------------------------------------------------------------

    def _seed(self) -> None:
        ns_rt = by_path("", "v1", "namespaces")
        assert ns_rt is not None
        seeded = self.clock.now() - SEEDED_AGE
        for name in SYSTEM_NAMESPACES:
            self._create(ns_rt, {"metadata": {"name": name}}, seeded)
        nodes = list(self.scenario.nodes)
        if self.extra_pods:
            nodes += _bench_nodes(self.extra_pods, len(nodes))
        for i, spec in enumerate(nodes):
            self._create(by_path("", "v1", "nodes"), _node(spec, i), seeded)  # type: ignore[arg-type]
        for i, obj in enumerate(self.scenario.objects):
            rt = by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            if rt is None:
                raise scenarios.ScenarioError(
                    f"{self.scenario.source}: objects[{i}] is {obj.get('apiVersion')} {obj.get('kind')}, "
                    "which the sandbox does not serve"
                )
            try:
                self._create(rt, obj, seeded)
            except APIError as e:
                raise scenarios.ScenarioError(f"{self.scenario.source}: objects[{i}] was refused: {e.message}") from e
        if self.extra_pods:
            for obj in _bench_objects(self.extra_pods):
                self._create(by_kind(obj["apiVersion"], obj["kind"]), obj, seeded)  # type: ignore[arg-type]

    def _create(self, rt, obj: dict[str, Any], created) -> None:  # type: ignore[no-untyped-def]
        obj = copy.deepcopy(obj)
        self.store.create(rt, obj, creation_timestamp=self.clock.stamp(created))

    # --- client configuration --------------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CONTEXT,
                    "cluster": {
                        "server": self.api_url,
                        "certificate-authority-data": base64.b64encode(self.cert.cert_pem).decode(),
                        "extensions": [
                            {
                                "name": "pitstop.dev/sandbox",
                                "extension": {
                                    "registry": self.registry_url,
                                    "github": self.github_url,
                                    "githubToken": self.github_token,
                                    "scenario": self.scenario.name,
                                },
                            }
                        ],
                    },
                }
            ],
            "users": [{"name": CONTEXT, "user": {"token": self.token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
            "current-context": CONTEXT,
            "preferences": {},
        }

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(self.kubeconfig(namespace), f, sort_keys=False)
        tmp.replace(path)
        return path


def _pod_settled(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in ("Running", "Succeeded", "Failed"):
        return True
    conds = {c.get("type"): c for c in status.get("conditions") or ()}
    if conds.get("PodScheduled", {}).get("reason") == "Unschedulable":
        return True
    waiting = [(cs.get("state") or {}).get("waiting") or {} for cs in status.get("containerStatuses") or ()]
    return bool(waiting) and all(w.get("reason") not in (None, "ContainerCreating", "PodInitializing") for w in waiting)


def _port_of(runner: web.AppRunner) -> int:
    for addr in runner.addresses:
        return int(addr[1])
    raise RuntimeError("listener has no address")


def _node(spec: NodeSpec, index: int) -> dict[str, Any]:
    labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/hostname": spec.name,
        **spec.labels,
    }
    capacity = dict(spec.allocatable)
    ip = f"10.128.{index // 250}.{index % 250 + 2}"
    ready = {
        "type": "Ready",
        "status": "True" if spec.ready else "False",
        "reason": "KubeletReady" if spec.ready else "KubeletNotReady",
        "message": "kubelet is posting ready status" if spec.ready else "container runtime network not ready",
    }
    conditions = [
        {"type": t, "status": "False", "reason": r, "message": m}
        for t, r, m in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ] + [ready]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {
            "podCIDR": f"10.{64 + index // 250}.{index % 250}.0/24",
            **({"taints": list(spec.taints)} if spec.taints else {}),
        },
        "status": {
            "capacity": capacity,
            "allocatable": dict(spec.allocatable),
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": spec.name}],
            "nodeInfo": {
                "machineID": f"{index:032x}",
                "systemUUID": f"{index:08x}-0000-0000-0000-000000000000",
                "bootID": f"{index:08x}-b007-0000-0000-000000000000",
                "kernelVersion": "6.6.72+",
                "osImage": "Container-Optimized OS from Google",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.32.4",
                "kubeProxyVersion": "v1.32.4",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


BENCH_PODS_PER_DEPLOYMENT = 50
BENCH_NAMESPACES = 10


def _bench_nodes(pods: int, existing: int) -> list[NodeSpec]:
    count = math.ceil(pods / 100)  # 110 pods a node allowed; leave headroom like a real pool
    return [
        NodeSpec(
            name=f"bench-pool-node-{i + 1}",
            labels={"pitstop.dev/pool": "bench"},
            allocatable={"cpu": "64", "memory": "256Gi", "pods": "110"},
        )
        for i in range(count)
    ]


def _bench_objects(pods: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i}"}} for i in range(BENCH_NAMESPACES)
    ]
    left, i = pods, 0
    while left > 0:
        n = min(BENCH_PODS_PER_DEPLOYMENT, left)
        name = f"service-{i:03d}"
        labels = {"app": name}
        out.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": f"bench-{i % BENCH_NAMESPACES}", "labels": labels},
                "spec": {
                    "replicas": n,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": f"registry.example.com/bench/{name}:1.0.0",
                                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                }
                            ]
                        },
                    },
                },
            }
        )
        left -= n
        i += 1
    return out


class SandboxThread:
    """A sandbox on its own event loop thread; use as a context manager."""

    def __init__(self, scenario: str | Scenario = "empty", **options: Any) -> None:
        self.scenario = scenarios.load(scenario) if isinstance(scenario, str) else scenario
        self.options = options
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="pitstop-sandbox", daemon=True)
        self.sandbox: Sandbox | None = None

    def __enter__(self) -> Sandbox:
        self._thread.start()
        try:
            self.sandbox = self.call(self._start())
        except BaseException:
            self.close()
            raise
        return self.sandbox

    async def _start(self) -> Sandbox:
        sb = Sandbox(self.scenario, **self.options)
        await sb.start()
        return sb

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the sandbox's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run a plain function on the sandbox's loop (store reads must happen there)."""

        async def _wrap():  # type: ignore[no-untyped-def]
            return fn(*args)

        return self.call(_wrap())

    def close(self) -> None:
        if self.sandbox is not None:
            try:
                self.call(self.sandbox.stop(), timeout=15)
            finally:
                self.sandbox = None
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()

    def __exit__(self, *exc: object) -> None:
        self.close()
