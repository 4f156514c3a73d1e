"""The scheduler places pods like kube-scheduler 1.32 and, when it cannot, says why in its exact words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.controllers.scheduler import NodeInfo, node_info, pod_requests, term_matches, tolerates
from tests.conftest import RunningSandbox, wait_for
from tests.sandbox.kube import Kubectl

SCENARIOS = Path(__file__).parent / "scenarios"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", resources: {requests: {cpu: 100m, memory: 64Mi}}}]
"""


@pytest.fixture
def cluster(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory("empty", clock_speed=100)


def make_pod(rs: RunningSandbox, name: str, spec: dict[str, Any], ns: str = "default") -> None:
    store = rs.sb.store
    body = {"metadata": {"name": name, "namespace": ns}, "spec": spec}
    rs.read(lambda: store.create(store.rt("v1", "Pod"), body))


def container(name: str = "app", image: str = "nginx:1.27", **requests: str) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    if requests:
        c["resources"] = {"requests": requests}
    return c


def pod_scheduled(rs: RunningSandbox, name: str, ns: str = "default") -> dict[str, Any] | None:
    pod = rs.get("v1", "Pod", ns, name)
    for c in (pod or {}).get("status", {}).get("conditions") or ():
        if c["type"] == "PodScheduled":
            return c
    return None


def unschedulable_message(rs: RunningSandbox, name: str) -> str:
    cond = wait_for(
        lambda: (c := pod_scheduled(rs, name)) is not None and c["status"] == "False" and c,
        what=f"{name} to be unschedulable",
    )
    assert cond["reason"] == "Unschedulable"
    events = [
        e
        for e in rs.list("v1", "Event", "default")
        if e["involvedObject"]["name"] == name and e["reason"] == "FailedScheduling"
    ]
    assert [(e["type"], e["message"], e["source"]["component"]) for e in events] == [
        ("Warning", cond["message"], "default-scheduler")
    ]
    return str(cond["message"])


def node_of(rs: RunningSandbox, name: str, ns: str = "default") -> str:
    return str(
        wait_for(
            lambda: ((rs.get("v1", "Pod", ns, name) or {}).get("spec") or {}).get("nodeName"), what=f"{name} bound"
        )
    )


# --- exact FitError texts -----------------------------------------------------------------------


def test_a_pod_bigger_than_every_node_is_insufficient_memory(cluster: RunningSandbox) -> None:
    make_pod(cluster, "huge", {"containers": [container(memory="64Gi")]})
    assert unschedulable_message(cluster, "huge") == (
        "0/3 nodes are available: 3 Insufficient memory. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


def test_cpu_and_memory_shortfalls_are_counted_and_sorted(cluster: RunningSandbox) -> None:
    make_pod(cluster, "greedy", {"containers": [container(cpu="8", memory="64Gi")]})
    assert unschedulable_message(cluster, "greedy") == (
        "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


def test_init_containers_count_by_the_max_rule(cluster: RunningSandbox) -> None:
    spec = {"initContainers": [container("warmup", memory="20Gi")], "containers": [container(memory="1Gi")]}
    make_pod(cluster, "warm", spec)
    assert unschedulable_message(cluster, "warm").startswith("0/3 nodes are available: 3 Insufficient memory.")


def test_tainted_nodes_refuse_until_the_taint_is_removed(cluster: RunningSandbox, tmp_path: Path) -> None:
    kubectl = Kubectl(cluster, tmp_path / "cache")
    kubectl("taint", "nodes", "--all", "dedicated=ml:NoSchedule")
    make_pod(cluster, "web", {"containers": [container()]})
    assert unschedulable_message(cluster, "web") == (
        "0/3 nodes are available: 3 node(s) had untolerated taint(s). "
        f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    )
    kubectl("taint", "nodes", "sandbox-node-2", "dedicated=ml:NoSchedule-")
    assert node_of(cluster, "web") == "sandbox-node-2"
    assert pod_scheduled(cluster, "web")["status"] == "True"


def test_cordoned_nodes_are_unschedulable(cluster: RunningSandbox, tmp_path: Path) -> None:
    kubectl = Kubectl(cluster, tmp_path / "cache")
    for n in ("sandbox-node-1", "sandbox-node-2", "sandbox-node-3"):
        kubectl("cordon", n)
    make_pod(cluster, "web", {"containers": [container()]})
    assert unschedulable_message(cluster, "web") == (
        f"0/3 nodes are available: 3 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    )
    kubectl("uncordon", "sandbox-node-3")
    assert node_of(cluster, "web") == "sandbox-node-3"


def test_each_node_reports_its_own_reason(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    rs = sandbox_factory(str(SCENARIOS / "mixed-pools.yaml"), clock_speed=100)
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["general", "gpu"]}]}
                ]
            }
        }
    }
    make_pod(rs, "trainer", {"affinity": affinity, "containers": [container(memory="4Gi")]})
    assert unschedulable_message(rs, "trainer") == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: "
        f"1 No preemption victims found for incoming pod, 2 {NOT_HELPFUL}."
    )
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    make_pod(
        rs, "trainer-2", {"affinity": affinity, "tolerations": [toleration], "containers": [container(memory="4Gi")]}
    )
    assert node_of(rs, "trainer-2") == "gpu-1"


def test_node_affinity_operators_and_fields(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    rs = sandbox_factory(str(SCENARIOS / "mixed-pools.yaml"), clock_speed=100)

    def required(*terms: dict[str, Any]) -> dict[str, Any]:
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}

    make_pod(
        rs,
        "gt",
        {
            "affinity": required({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}),
            "containers": [container()],
        },
    )
    make_pod(
        rs,
        "by-name",
        {
            "affinity": required(
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["general-1"]}]}
            ),
            "containers": [container()],
        },
    )
    make_pod(
        rs,
        "either",  # terms are OR'ed: the first matches nothing, the second only batch-1
        {
            "affinity": required(
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["nowhere"]}]},
                {"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["general", "gpu"]}]},
            ),
            "containers": [container()],
        },
    )
    make_pod(rs, "selector", {"nodeSelector": {"pool": "general"}, "containers": [container()]})
    assert node_of(rs, "gt") == "batch-1"
    assert node_of(rs, "by-name") == "general-1"
    assert node_of(rs, "either") == "batch-1"
    assert node_of(rs, "selector") == "general-1"


def test_missing_claim_fails_before_any_node_then_schedules_once_bound(cluster: RunningSandbox) -> None:
    spec = {
        "containers": [container()],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
    }
    make_pod(cluster, "db", spec)
    assert unschedulable_message(cluster, "db") == (
        '0/3 nodes are available: persistentvolumeclaim "data" not found. '
        f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    )
    store = cluster.sb.store
    claim = {
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    cluster.read(lambda: store.create(store.rt("v1", "PersistentVolumeClaim"), claim))
    node_of(cluster, "db")


# --- accounting and placement -----------------------------------------------------------------


def test_deleting_a_pod_frees_room_for_a_pending_one(cluster: RunningSandbox) -> None:
    for i in (1, 2, 3):
        make_pod(cluster, f"big-{i}", {"containers": [container(memory="12Gi")]})
    nodes = {node_of(cluster, f"big-{i}") for i in (1, 2, 3)}
    assert nodes == {"sandbox-node-1", "sandbox-node-2", "sandbox-node-3"}
    make_pod(cluster, "late", {"containers": [container(memory="8Gi")]})
    assert "3 Insufficient memory" in unschedulable_message(cluster, "late")
    store = cluster.sb.store
    freed = cluster.get("v1", "Pod", "default", "big-2")["spec"]["nodeName"]
    cluster.read(lambda: store.delete(store.rt("v1", "Pod"), "default", "big-2"))
    assert node_of(cluster, "late") == freed
    scheduled = [
        e
        for e in cluster.list("v1", "Event", "default")
        if e["involvedObject"]["name"] == "late" and e["reason"] == "Scheduled"
    ]
    assert [e["message"] for e in scheduled] == [f"Successfully assigned default/late to {freed}"]


def test_unschedulable_pods_are_retried_and_the_event_counts_up(cluster: RunningSandbox) -> None:
    make_pod(cluster, "huge", {"containers": [container(memory="64Gi")]})

    def count() -> int:
        evs = [e for e in cluster.list("v1", "Event", "default") if e["involvedObject"]["name"] == "huge"]
        return max((e["count"] for e in evs), default=0)

    wait_for(lambda: count() >= 3, what="FailedScheduling to repeat")


def test_replicas_of_one_controller_spread_over_nodes(cluster: RunningSandbox, tmp_path: Path) -> None:
    kubectl = Kubectl(cluster, tmp_path / "cache")
    kubectl("apply", "-f", "-", input=DEPLOYMENT)
    wait_for(
        lambda: len([p for p in cluster.list("v1", "Pod", "default") if p["spec"].get("nodeName")]) == 3, what="3 bound"
    )
    nodes = {p["spec"]["nodeName"] for p in cluster.list("v1", "Pod", "default")}
    assert len(nodes) == 3


def test_pods_for_another_scheduler_are_left_alone(cluster: RunningSandbox) -> None:
    make_pod(cluster, "custom", {"schedulerName": "volcano", "containers": [container()]})
    make_pod(cluster, "marker", {"containers": [container()]})
    node_of(cluster, "marker")
    pod = cluster.get("v1", "Pod", "default", "custom")
    assert not pod["spec"].get("nodeName") and not pod.get("status", {}).get("conditions")


# --- the matching rules, directly -----------------------------------------------------------------


def node(**labels: str) -> NodeInfo:
    return node_info(
        {"metadata": {"name": "n1", "labels": labels}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    )


@pytest.mark.parametrize(
    ("toleration", "taint", "ok"),
    [
        ({"operator": "Exists"}, {"key": "a", "value": "b", "effect": "NoSchedule"}, True),
        ({"key": "a", "operator": "Exists"}, {"key": "a", "value": "x", "effect": "NoExecute"}, True),
        ({"key": "a", "value": "b"}, {"key": "a", "value": "b", "effect": "NoSchedule"}, True),
        ({"key": "a", "value": "c"}, {"key": "a", "value": "b", "effect": "NoSchedule"}, False),
        ({"key": "a", "operator": "Exists", "effect": "NoExecute"}, {"key": "a", "effect": "NoSchedule"}, False),
        ({"key": "", "operator": "Equal"}, {"key": "a", "effect": "NoSchedule"}, False),
    ],
)
def test_toleration_matching(toleration: dict[str, str], taint: dict[str, str], ok: bool) -> None:
    assert tolerates([toleration], taint) is ok


@pytest.mark.parametrize(
    ("expr", "ok"),
    [
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
        ({"key": "missing", "operator": "NotIn", "values": ["a"]}, True),
        ({"key": "zone", "operator": "Exists"}, True),
        ({"key": "zone", "operator": "DoesNotExist"}, False),
        ({"key": "cores", "operator": "Gt", "values": ["3"]}, True),
        ({"key": "cores", "operator": "Lt", "values": ["3"]}, False),
        ({"key": "zone", "operator": "Gt", "values": ["3"]}, False),
    ],
)
def test_node_selector_operators(expr: dict[str, Any], ok: bool) -> None:
    assert term_matches({"matchExpressions": [expr]}, node(zone="a", cores="4")) is ok


def test_an_empty_term_matches_nothing() -> None:
    assert term_matches({}, node(zone="a")) is False


def test_a_not_ready_node_carries_the_not_ready_taint() -> None:
    n = node_info({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert n.taints == [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]


def test_requests_take_the_larger_of_init_and_app_containers() -> None:
    req = pod_requests(
        {
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "250m"}}},
            ],
            "overhead": {"cpu": "10m"},
        }
    )
    assert (req.cpu, req.mem) == (2010, 2 * 1024**3)
