"""Snapshot indexes answer the questions playbooks ask: whose pod is this, what happened to it, what runs where."""

from __future__ import annotations

import pytest

from diagnostics.cache import load_snapshot
from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import load
from diagnostics.snapshot import Snapshot, event_time, selector_matches
from tests.conftest import wait_for

NS = "coditect-staging"
MISSING_KEY = "Error: couldn't find key db-password in Secret coditect-staging/backend-secrets"


def names(objs) -> set[str]:
    return {o["metadata"]["name"] for o in objs}


@pytest.fixture
async def demo_snapshot(sandbox_factory) -> Snapshot:
    rs = sandbox_factory("demo", clock_speed=100)
    wait_for(
        lambda: any(e.get("message") == MISSING_KEY for e in rs.list("v1", "Event", NS)),
        what="the migration pod's CreateContainerConfigError event",
    )
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        return await load_snapshot(kube)


def backend_pods(snap: Snapshot) -> list[dict]:
    return [
        p
        for p in snap.list("Pod", NS)
        if p["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "coditect-backend"
    ]


async def test_backend_pods_belong_to_the_backend_deployment(demo_snapshot):
    snap = demo_snapshot
    pods = backend_pods(snap)
    assert len(pods) == 2
    deploy = snap.get("Deployment", NS, "coditect-backend")
    for pod in pods:
        assert [o["kind"] for o in snap.owner_chain(pod)] == ["Pod", "ReplicaSet", "Deployment"]
        assert snap.top_owner(pod) is deploy
    assert names(snap.pods_of(deploy)) == names(pods)
    assert snap.pods_of(pods[0]) == [pods[0]]  # a pod is its own workload's only pod
    rs = snap.owner_chain(pods[0])[1]
    assert names(snap.pods_of(rs)) == names(pods)
    assert snap.by_uid(deploy["metadata"]["uid"]) is deploy


async def test_migration_job_pod_events_show_the_missing_key(demo_snapshot):
    snap = demo_snapshot
    job = snap.get("Job", NS, "coditect-backend-migration")
    pods = snap.pods_of(job)
    assert pods and all(snap.top_owner(p) is job for p in pods)
    events = [e for p in pods for e in snap.events_for(p)]
    failed = [e for e in events if e["reason"] == "Failed" and e["type"] == "Warning"]
    assert any(e["message"] == MISSING_KEY for e in failed)
    statuses = [cs for p in pods for cs in p["status"].get("containerStatuses", [])]
    assert any((cs["state"].get("waiting") or {}).get("reason") == "CreateContainerConfigError" for cs in statuses)
    for pod in pods:
        stamps = [event_time(e) for e in snap.events_for(pod)]
        assert stamps == sorted(stamps)
        assert {e["involvedObject"]["uid"] for e in snap.events_for(pod)} == {pod["metadata"]["uid"]}


async def test_cronjob_pods_trace_back_to_the_cronjob(demo_snapshot):
    snap = demo_snapshot
    cron = snap.get("CronJob", NS, "coditect-nightly-report")
    pods = snap.pods_of(cron)
    assert pods
    for pod in pods:
        assert [o["kind"] for o in snap.owner_chain(pod)] == ["Pod", "Job", "CronJob"]
        assert snap.top_owner(pod) is cron


async def test_pods_on_each_node(demo_snapshot):
    snap = demo_snapshot
    nodes = snap.list("Node")
    assert len(nodes) == 3
    scheduled = [p for p in snap.list("Pod") if p["spec"].get("nodeName")]
    on_nodes = [p for n in nodes for p in snap.pods_on(n["metadata"]["name"])]
    assert names(on_nodes) == names(scheduled)
    for node in nodes:
        assert all(p["spec"]["nodeName"] == node["metadata"]["name"] for p in snap.pods_on(node["metadata"]["name"]))
    workers = [p for p in snap.list("Pod", NS) if p["metadata"]["name"].startswith("coditect-worker-")]
    assert workers and not names(workers) & names(on_nodes)  # the wrong node pool: never scheduled
    assert snap.pods_on("no-such-node") == []


async def test_select_finds_a_deployments_pods_by_its_selector(demo_snapshot):
    snap = demo_snapshot
    deploy = snap.get("Deployment", NS, "coditect-backend")
    assert names(snap.select("Pod", NS, deploy["spec"]["selector"])) == names(backend_pods(snap))
    service_style = {"app.kubernetes.io/name": "coditect-backend"}
    assert names(snap.select("Pod", NS, service_style)) == names(backend_pods(snap))
    assert snap.select("Pod", "kube-system", deploy["spec"]["selector"]) == []
    assert snap.select("Pod", NS, None) == []


async def test_list_is_sorted_and_filtered_by_namespace(demo_snapshot):
    snap = demo_snapshot
    everything = snap.list("Deployment")
    assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in everything] == sorted(
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in everything
    )
    assert names(snap.list("Deployment", "kube-system")) == {"coredns"}
    assert snap.get("Namespace", None, NS)["kind"] == "Namespace"
    assert snap.list("Widget") == []


# --- without a cluster -------------------------------------------------------------------------


def obj(kind: str, name: str, namespace: str | None = "ns", uid: str | None = None, **extra) -> dict:
    meta = {"name": name, "uid": uid or f"uid-{kind}-{name}"}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra.pop("metadata", {}))
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **extra}


def owned(kind: str, name: str, owner: dict, **extra) -> dict:
    ref = {
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    return obj(kind, name, metadata={"ownerReferences": [ref]}, **extra)


def test_events_fall_back_to_kind_namespace_and_name():
    pod = obj("Pod", "web-1")
    by_uid = obj(
        "Event",
        "e1",
        involvedObject={"kind": "Pod", "name": "web-1", "namespace": "ns", "uid": "uid-Pod-web-1"},
        lastTimestamp="2026-01-01T00:00:05Z",
    )
    by_name = obj(
        "Event",
        "e2",
        involvedObject={"kind": "Pod", "name": "web-1", "namespace": "ns"},
        eventTime="2026-01-01T00:00:04.500000Z",
    )
    namesake = obj(
        "Event",
        "e3",
        involvedObject={"kind": "Pod", "name": "web-1", "namespace": "ns", "uid": "old-uid"},
        lastTimestamp="2026-01-01T00:00:01Z",
    )
    series = obj(
        "Event",
        "e4",
        involvedObject={"kind": "Pod", "name": "web-1", "namespace": "ns", "uid": "uid-Pod-web-1"},
        series={"lastObservedTime": "2026-01-01T00:00:05.100000Z"},
        lastTimestamp="2026-01-01T00:00:00Z",
    )
    snap = Snapshot.from_objects("test", [pod, by_uid, by_name, namesake, series])
    assert [e["metadata"]["name"] for e in snap.events_for(pod)] == ["e2", "e1", "e4"]


def test_owner_chain_stops_at_missing_owners_and_cycles():
    deploy = obj("Deployment", "web")
    rs = owned("ReplicaSet", "web-abc", deploy)
    pod = owned("Pod", "web-abc-1", rs)
    orphan_pod = owned("Pod", "web-abc-2", rs)
    snap = Snapshot.from_objects("test", [rs, pod, orphan_pod])  # the Deployment is not in this snapshot
    assert snap.top_owner(pod) is rs
    assert names(snap.pods_of(rs)) == {"web-abc-1", "web-abc-2"}
    bare = obj("Pod", "debug")
    assert Snapshot.from_objects("test", [bare]).top_owner(bare) is bare
    a = obj("ReplicaSet", "a", uid="a")
    b = obj("ReplicaSet", "b", uid="b")
    a["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "b", "uid": "b"}]
    b["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "a", "uid": "a"}]
    assert len(Snapshot.from_objects("test", [a, b]).owner_chain(a)) == 2


def test_a_namesake_is_not_an_owner():
    old_job = obj("Job", "migrate", uid="old")
    pod = owned("Pod", "migrate-x", old_job)
    new_job = obj("Job", "migrate", uid="new")
    snap = Snapshot.from_objects("test", [pod, new_job])
    assert snap.owner_chain(pod) == [pod]


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}, {"tier": "api"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, {}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, {"tier": "web"}, False),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, {"canary": ""}, True),
        ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, {"canary": ""}, False),
        ({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]}, {"x": "2"}, False),
        ({"app": "web"}, {"app": "web"}, True),
        ({"app": "web"}, {"app": "api"}, False),
    ],
)
def test_label_selector_semantics(selector, labels, matches):
    assert selector_matches(selector, labels) is matches


def test_a_snapshot_does_not_change_under_its_readers():
    source = {("ns", "a"): obj("ConfigMap", "a")}
    snap = Snapshot("test", {"ConfigMap": source}, forbidden={"Secret"}, errors={"Job": "500 InternalError: boom"})
    source[("ns", "b")] = obj("ConfigMap", "b")  # the cache goes on changing its own dict
    assert names(snap.list("ConfigMap")) == {"a"}
    with pytest.raises(TypeError):
        snap.objects["ConfigMap"][("ns", "c")] = obj("ConfigMap", "c")  # type: ignore[index]
    assert snap.forbidden == frozenset({"Secret"})
    assert snap.has("ConfigMap") and not snap.has("Secret") and not snap.has("Job") and not snap.has("Pod")
