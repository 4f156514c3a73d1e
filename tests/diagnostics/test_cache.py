"""The watch cache keeps up with the cluster through new objects, 410 Expired, dropped connections and 403s."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import statistics
import time

import orjson
import pytest
from aiohttp import web

from diagnostics.cache import WatchCache, load_snapshot
from diagnostics.kube import KubeClient, Unreachable
from diagnostics.kubeconfig import ClusterConfig, load
from tests.diagnostics import eventually

NS = "coditect-staging"
FAST = {"backoff_initial": 0.05, "backoff_max": 0.5}


class Proxy:
    """A TCP relay in front of the sandbox that can cut every connection and refuse new ones."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.refusing = False
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        for w in list(self._writers):
            w.transport.abort()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def proxied(rs):
    proxy = Proxy(int(rs.sb.api_url.rsplit(":", 1)[1]))
    port = await proxy.start()
    try:
        yield proxy, dataclasses.replace(load(str(rs.kubeconfig)), server=f"https://127.0.0.1:{port}")
    finally:
        await proxy.stop()


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {}}


def names(snapshot, kind: str, namespace: str | None = None) -> set[str]:
    return {o["metadata"]["name"] for o in snapshot.list(kind, namespace)}


async def test_cache_syncs_on_the_demo_like_a_one_shot_load(sandbox_factory):
    rs = sandbox_factory("demo", clock_speed=100)
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        async with WatchCache(kube, namespace=None) as cache:
            assert await cache.synced(10)
            snap = cache.snapshot()
        loaded = await load_snapshot(kube)
    assert snap.context == "pitstop-sandbox"
    assert not snap.forbidden and not snap.errors
    assert cache.state("DaemonSet").served is False  # the sandbox does not serve DaemonSets: none exist
    for kind in ("Deployment", "Job", "CronJob", "Secret", "Node", "Service", "Namespace"):
        assert names(snap, kind) == names(loaded, kind), kind
    assert {"coditect-backend", "coditect-worker", "coditect-frontend", "coditect-docs"} <= names(
        snap, "Deployment", NS
    )
    assert snap.count("Pod") >= 9


async def test_cache_sees_a_new_pod_through_the_watch(empty_sandbox):
    seen: list[tuple[str, str, str]] = []
    async with (
        KubeClient(load(str(empty_sandbox.kubeconfig))) as kube,
        WatchCache(kube, [("v1", "Pod"), ("v1", "Node")], "default") as cache,
    ):
        assert await cache.synced(10)
        unsubscribe = cache.subscribe(lambda kind, event, obj: seen.append((kind, event, obj["metadata"]["name"])))
        before = cache.snapshot()
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "debug-shell", "namespace": "default"},
            "spec": {"containers": [{"name": "sh", "image": "busybox:1.36"}]},
        }
        await kube.create(pod)
        await eventually(lambda: "debug-shell" in names(cache.snapshot(), "Pod"), what="the pod in the cache")
        await eventually(
            lambda: (cache.snapshot().get("Pod", "default", "debug-shell") or {}).get("spec", {}).get("nodeName"),
            what="the scheduler's binding seen as MODIFIED",
        )
        await kube.delete("v1", "Pod", "default", "debug-shell")
        await eventually(lambda: ("Pod", "DELETED", "debug-shell") in seen, what="the DELETED event")
        unsubscribe()
        assert cache.snapshot().get("Pod", "default", "debug-shell") is None
        assert cache.state("Pod").lists == 1  # all of it came through one watch
    assert "debug-shell" not in names(before, "Pod")  # snapshots do not change after they are taken
    assert ("Pod", "ADDED", "debug-shell") in seen and ("Pod", "MODIFIED", "debug-shell") in seen


async def test_cache_relists_after_410_expired(sandbox_factory):
    rs = sandbox_factory("empty", watch_window=20)
    async with (
        KubeClient(load(str(rs.kubeconfig))) as direct,
        proxied(rs) as (proxy, cfg),
        KubeClient(cfg) as kube,
        WatchCache(kube, [("v1", "ConfigMap")], "default", **FAST) as cache,
    ):
        assert await cache.synced(10)
        await direct.create(configmap("before-the-gap"))
        await eventually(lambda: "before-the-gap" in names(cache.snapshot(), "ConfigMap"))
        proxy.refusing = True
        proxy.cut()
        await eventually(lambda: cache.state("ConfigMap").error, what="the cache to notice the cut")
        for i in range(30):  # more changes than the server keeps: the cache's version falls out of its window
            await direct.create(configmap(f"churn-{i}"))
        await direct.delete("v1", "ConfigMap", "default", "before-the-gap")
        proxy.refusing = False
        await eventually(lambda: cache.state("ConfigMap").lists >= 2, what="a relist")
        await eventually(lambda: cache.state("ConfigMap").error is None, what="the error to clear")
        snap = cache.snapshot()
    assert {f"churn-{i}" for i in range(30)} <= names(snap, "ConfigMap")
    assert "before-the-gap" not in names(snap, "ConfigMap")  # deleted during the gap: gone after the relist


async def test_cache_reconnects_after_the_connection_drops(empty_sandbox):
    async with (
        KubeClient(load(str(empty_sandbox.kubeconfig))) as direct,
        proxied(empty_sandbox) as (proxy, cfg),
        KubeClient(cfg) as kube,
        WatchCache(kube, [("v1", "ConfigMap")], "default", **FAST) as cache,
    ):
        assert await cache.synced(10)
        await direct.create(configmap("proves-the-watch-is-up"))
        await eventually(lambda: "proves-the-watch-is-up" in names(cache.snapshot(), "ConfigMap"))
        watches = cache.state("ConfigMap").watches
        proxy.cut()
        await direct.create(configmap("made-while-cut"))
        await eventually(lambda: "made-while-cut" in names(cache.snapshot(), "ConfigMap"), what="the new object")
        state = cache.state("ConfigMap")
    assert state.watches > watches and state.lists == 1  # watched again from its version, no relist needed
    assert state.error is None


async def test_cache_keeps_retrying_while_the_server_is_down(empty_sandbox):
    async with (
        KubeClient(load(str(empty_sandbox.kubeconfig))) as direct,
        proxied(empty_sandbox) as (proxy, cfg),
        KubeClient(cfg) as kube,
        WatchCache(kube, [("v1", "ConfigMap")], "default", **FAST) as cache,
    ):
        assert await cache.synced(10)
        await direct.create(configmap("proves-the-watch-is-up"))
        await eventually(lambda: "proves-the-watch-is-up" in names(cache.snapshot(), "ConfigMap"))
        proxy.refusing = True
        proxy.cut()
        await eventually(lambda: cache.state("ConfigMap").error, what="an error")
        assert cache.state("ConfigMap").error.startswith(f"cannot reach the Kubernetes API server at {cfg.server}")
        accepted = proxy.accepted
        await direct.create(configmap("after-the-outage"))
        proxy.refusing = False
        await eventually(lambda: "after-the-outage" in names(cache.snapshot(), "ConfigMap"))
        assert proxy.accepted > accepted
        assert cache.snapshot().has("ConfigMap")  # stale for a while, never emptied


# --- a server that forbids Secrets ----------------------------------------------------------------

FORBIDDEN = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'secrets is forbidden: User "system:serviceaccount:ci:pitstop" cannot list resource "secrets" '
    'in API group "" in the namespace "ci"',
    "reason": "Forbidden",
    "details": {"kind": "secrets"},
    "code": 403,
}
POD = {"metadata": {"name": "runner", "namespace": "ci", "uid": "u-1", "resourceVersion": "5"}, "spec": {}}


async def rbac_stub(request: web.Request) -> web.StreamResponse:
    """A namespace-scoped service account's view: pods readable, secrets forbidden."""
    if request.path.endswith("/secrets"):
        return web.json_response(FORBIDDEN, status=403)
    if request.path == "/api/v1/namespaces/ci/pods":
        if request.query.get("watch") == "true":
            resp = web.StreamResponse()
            await resp.prepare(request)
            mark = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "6"}}
            await resp.write(orjson.dumps({"type": "BOOKMARK", "object": mark}) + b"\n")
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await asyncio.sleep(float(request.query.get("timeoutSeconds", "5")))
            return resp
        return web.json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "5"}, "items": [POD]}
        )
    return web.json_response(
        {
            "kind": "Status",
            "code": 404,
            "reason": "NotFound",
            "message": "the server could not find the requested resource",
        },
        status=404,
    )


@contextlib.asynccontextmanager
async def stub_server():
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rbac_stub)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield ClusterConfig(
            context="ci", cluster="ci", user="ci", server=f"http://127.0.0.1:{port}", namespace="ci", token="t"
        )
    finally:
        await runner.cleanup()


async def test_a_forbidden_kind_is_marked_forbidden_never_empty():
    async with stub_server() as cfg, KubeClient(cfg) as kube:
        async with WatchCache(kube, [("v1", "Pod"), ("v1", "Secret")], "ci", **FAST) as cache:
            assert await cache.synced(5)
            snap = cache.snapshot()
            assert cache.state("Secret").forbidden and cache.state("Pod").synced
            await eventually(lambda: cache.state("Pod").resource_version == "6", what="the bookmark")
        loaded = await load_snapshot(kube, ["Pod", "Secret"], "ci")  # bare Kind names work too
    for s in (snap, loaded):
        assert s.forbidden == frozenset({"Secret"})
        assert not s.has("Secret") and s.has("Pod")
        assert names(s, "Pod") == {"runner"}


async def test_load_snapshot_of_an_unreachable_cluster_raises_unreachable():
    cfg = ClusterConfig(context="gone", cluster="gone", user="", server="http://127.0.0.1:9", namespace="default")
    async with KubeClient(cfg, request_timeout=5) as kube:
        with pytest.raises(Unreachable, match=r"^cannot reach the Kubernetes API server at http://127.0.0.1:9: "):
            await load_snapshot(kube)


async def test_a_cache_that_cannot_reach_the_cluster_reports_it():
    cfg = ClusterConfig(context="gone", cluster="gone", user="", server="http://127.0.0.1:9", namespace="default")
    async with KubeClient(cfg, request_timeout=5) as kube, WatchCache(kube, [("v1", "Pod")], None, **FAST) as cache:
        assert not await cache.synced(0.3)
        snap = cache.snapshot()
    assert not snap.has("Pod")
    assert snap.errors["Pod"].startswith("cannot reach the Kubernetes API server at http://127.0.0.1:9")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("PITSTOP_SLOW") != "1", reason="set PITSTOP_SLOW=1 to time 10,000 pods")
async def test_time_to_load_and_snapshot_10000_pods(sandbox_factory):
    from tests.conftest import wait_for

    rs = sandbox_factory("empty", extra_pods=10_000, clock_speed=100)
    # measure the client, not the controllers' start-up storm: wait until every pod runs
    wait_for(
        lambda: sum(p["status"].get("phase") == "Running" for p in rs.list("v1", "Pod")) >= 10_000,
        timeout=600,
        interval=0.5,
        what="10,000 running pods",
    )
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            snap = await load_snapshot(kube, [("v1", "Pod"), ("apps/v1", "ReplicaSet"), ("apps/v1", "Deployment")])
            runs.append(time.perf_counter() - start)
        async with WatchCache(kube, [("v1", "Pod")]) as cache:
            assert await cache.synced(120)
            start = time.perf_counter()
            for _ in range(10):
                cache.snapshot()
            per_snapshot = (time.perf_counter() - start) / 10
    start = time.perf_counter()
    owners = {snap.top_owner(p)["metadata"]["name"] for p in snap.list("Pod")}
    indexed = time.perf_counter() - start
    assert len(owners) == snap.count("Deployment") == 200
    print(
        f"\nload_snapshot of {snap.count('Pod')} pods (+ ReplicaSets, Deployments): "
        f"best {min(runs) * 1000:.0f} ms, median {statistics.median(runs) * 1000:.0f} ms of 3; "
        f"cache.snapshot(): {per_snapshot * 1000:.2f} ms; top_owner of every pod: {indexed * 1000:.0f} ms "
        f"({len(owners)} owners)"
    )
