"""pod-pending beyond the demo's wrong node pool: resources, taints, affinity, claims, StatefulSets, near misses."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from diagnostics import quantity
from diagnostics.findings import LivePlan, LiveTarget
from diagnostics.snapshot import Snapshot
from playbooks.base import Context
from playbooks.pod_pending import PLAYBOOK, fitting_request
from playbooks.runner import run_one
from tests.conftest import wait_for
from tests.playbooks.demo import Demo
from tests.playbooks.drill import changed_lines, diagnose, in_namespace, pod_reasons, start_drill, wait_for_reason

INSUFFICIENT_MEMORY = (
    "0/2 nodes are available: 2 Insufficient memory. "
    "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
)
UNTOLERATED = (
    "0/2 nodes are available: 2 node(s) had untolerated taint(s). "
    "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
)


@pytest.fixture
def pool(sandbox_factory, tmp_path, monkeypatch, capsys) -> Demo:  # type: ignore[no-untyped-def]
    d = start_drill("small-pool", sandbox_factory, tmp_path, monkeypatch, capsys)
    for ns in ("mem", "cpu", "affinity", "claims", "sts", "mixed"):
        wait_for_reason(d.rs, ns, "Unschedulable", "SchedulerError")
    return d


def findings(d: Demo, ns: str) -> list[dict[str, Any]]:
    return in_namespace(d.findings("pod-pending"), ns)


def apply(d: Demo, ns: str, verify_timeout: float = 20) -> list[dict[str, Any]]:
    code, out, err = d.pitstop(
        "-n", ns, "--playbook", "pod-pending", "--apply", "--yes", "--verify-timeout", str(verify_timeout), "-o", "json"
    )
    assert code in (0, 1), err
    applied: list[dict[str, Any]] = json.loads(out)["applied"]
    return applied


def test_memory_requests_larger_than_any_node_are_lowered_until_every_replica_fits(pool: Demo):
    [f] = findings(pool, "mem")
    assert f["title"] == "Not enough memory on any node"
    assert f["object"] == {"kind": "Deployment", "namespace": "mem", "name": "cache"}
    assert "The pods request 6Gi memory" in f["explanation"]
    assert any(INSUFFICIENT_MEMORY in e["text"] for e in f["evidence"])
    assert any("2 pod(s) Pending" in e["text"] for e in f["evidence"])
    [live] = f["fixes"]
    assert live["risk"] == "high" and live["target"]["kind"] == "Deployment"
    assert live["title"] == "Lower memory requests to fit all 2 pods"
    assert re.search(r"from 6Gi to \d+Mi per pod so that 2 pod\(s\) fit the free memory", live["notes"])
    removed, added = changed_lines(live["diff"])
    assert removed == "- memory: 6Gi" and added.startswith("+ memory: ")
    assert "limits" not in added

    # the node agent on general-a leaves the nodes uneven: both replicas must fit, not just one
    assert [(a["result"], a["verification"]) for a in apply(pool, "mem")] == [("applied", "verified")]
    wait_for(lambda: pool.ready("cache", "mem"), what="both cache replicas scheduled and ready")


def test_cpu_requests_larger_than_any_node_are_found_with_a_risky_fix(pool: Demo):
    [f] = findings(pool, "cpu")
    assert f["title"] == "Not enough cpu on any node"
    assert "The pods request 3 cpu" in f["explanation"]
    [live] = f["fixes"]
    assert live["risk"] == "high"
    assert changed_lines(live["diff"])[0] == "- cpu: '3'"
    assert [(a["result"], a["verification"]) for a in apply(pool, "cpu")] == [("applied", "verified")]
    wait_for(lambda: pool.ready("crunch", "cpu"), what="the crunch pod scheduled and ready")


def test_required_node_affinity_no_node_satisfies_is_fixed_to_the_value_nodes_carry(pool: Demo):
    [f] = findings(pool, "affinity")
    assert f["title"] == "Required node affinity matches no node"
    assert "pool in (highmem): nodes carry general (2 nodes)" in f["explanation"]
    [live] = f["fixes"]
    assert live["title"] == "Require pool in (general)"
    assert changed_lines(live["diff"]) == ["- - highmem", "+ - general"]
    assert [(a["result"], a["verification"]) for a in apply(pool, "affinity")] == [("applied", "verified")]
    wait_for(lambda: pool.ready("reports", "affinity"), what="the reports pod scheduled")


def test_missing_and_unbound_claims_are_findings_without_a_fix(pool: Demo):
    by_name = {f["object"]["name"]: f for f in findings(pool, "claims")}
    assert set(by_name) == {"uploader", "archiver"}
    missing, unbound = by_name["uploader"], by_name["archiver"]
    assert missing["title"] == "Volume claim uploads is not bound"
    assert "does not exist in claims" in missing["explanation"]
    assert any('persistentvolumeclaim "uploads" not found' in e["text"] for e in missing["evidence"])
    assert unbound["title"] == "Volume claim archive is not bound"
    assert "archive is Pending" in unbound["explanation"]
    assert any("no persistent volumes available for this claim" in e["text"] for e in unbound["evidence"])
    assert missing["fixes"] == [] and unbound["fixes"] == []


def test_a_statefulsets_pending_pods_are_reported_on_it_with_a_template_replace(pool: Demo):
    [f] = findings(pool, "sts")
    assert f["object"] == {"kind": "StatefulSet", "namespace": "sts", "name": "ledger"}
    assert any("ledger-0" in e["text"] for e in f["evidence"])
    [fix] = diagnose(pool.rs, pool.repo, "pod-pending", "sts")[0].fixes
    assert isinstance(fix.target, LiveTarget) and isinstance(fix.plan, LivePlan)
    assert (fix.target.kind, fix.target.name, fix.plan.mode) == ("StatefulSet", "ledger", "replace")
    assert "recreate" not in fix.title
    assert fix.plan.after["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "general"}
    assert fix.plan.after["metadata"]["uid"] == fix.plan.before["metadata"]["uid"]
    # as on a cluster, the StatefulSet leaves a pod that never became ready alone: the fix says so
    assert "delete its pods that are stuck" in fix.notes and "kubectl delete pod ledger-0" in fix.notes

    [(result, _)] = [(a["result"], a["verification"]) for a in apply(pool, "sts", verify_timeout=1)]
    assert result == "applied"
    store = pool.rs.sb.store
    pool.rs.read(lambda: store.delete(store.rt("v1", "Pod"), "sts", "ledger-0"))
    wait_for(
        lambda: [p["spec"].get("nodeName") for p in pool.rs.list("v1", "Pod", "sts")] in (["general-a"], ["general-b"]),
        what="ledger-0 back from the fixed template and scheduled",
    )
    assert not findings(pool, "sts")


def test_pods_refused_by_each_node_for_a_different_reason_still_get_a_finding(pool: Demo):
    [f] = findings(pool, "mixed")
    assert f["object"]["name"] == "indexer" and f["severity"] == "error"
    assert "1 Insufficient memory" in f["explanation"] and "1 node(s) didn't match" in f["explanation"]
    assert f["fixes"] == []


def test_healthy_pods_and_pods_no_scheduler_has_tried_yet_are_not_findings(pool: Demo):
    [pod] = pool.rs.list("v1", "Pod", "waiting")
    assert pod["status"]["phase"] == "Pending" and "PodScheduled" not in pod_reasons(pool.rs, "waiting")
    found = pool.findings("pod-pending")
    assert not in_namespace(found, "waiting") and not in_namespace(found, "healthy")


def test_taints_on_every_node_get_a_toleration_fix_marked_risky(sandbox_factory, tmp_path, monkeypatch, capsys):
    d = start_drill("tainted-pool", sandbox_factory, tmp_path, monkeypatch, capsys)
    wait_for_reason(d.rs, "ml", "Unschedulable")
    [f] = d.findings("pod-pending")
    assert f["title"] == "Every node has a taint the pods do not tolerate"
    assert "dedicated=ml:NoSchedule on 2 node(s)" in f["explanation"]
    assert any(UNTOLERATED in e["text"] for e in f["evidence"])
    [live] = f["fixes"]
    assert live["risk"] == "high" and "dedicated" in live["title"]
    added = [line for line in changed_lines(live["diff"]) if line.startswith("+")]
    # each node carries two taints: tolerating one of them would leave the pods where they are
    assert "+ - effect: NoSchedule" in added and "+ key: dedicated" in added and "+ key: nvidia.com/gpu" in added
    assert [(a["result"], a["verification"]) for a in apply(d, "ml")] == [("applied", "verified")]
    wait_for(lambda: d.ready("trainer", "ml"), what="the trainer pods on the tainted nodes")


def test_one_untainted_node_means_no_taint_finding(sandbox_factory, tmp_path, monkeypatch, capsys):
    d = start_drill("one-clean-node", sandbox_factory, tmp_path, monkeypatch, capsys)
    wait_for(lambda: d.ready("trainer", "ml"), what="the trainer pods on the untainted node")
    report = d.report("--playbook", "pod-pending")
    assert report["findings"] == [] and report["playbooks"][0]["status"] == "ok"


def _snapshot(*objects: dict[str, Any]) -> Snapshot:
    return Snapshot.from_objects("test", objects)


def _node(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"pool": "general"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "allocatable": {"cpu": "2", "memory": "4Gi"}},
        **extra,
    }


def _pending(name: str, spec: dict[str, Any] | None = None, message: str = "0/2 nodes are available") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": spec if spec is not None else {"containers": [{"name": "c", "image": "x"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}],
        },
    }


def test_sparse_and_odd_objects_never_break_the_playbook():
    snap = _snapshot(
        _node("ready"),
        {"kind": "Node", "metadata": {"name": "no-status"}},  # not ready: ignored
        {
            "kind": "Node",
            "metadata": {"name": "no-alloc"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
        _pending("no-spec", spec={}),
        _pending("empty-term", {"containers": [], "affinity": {"nodeAffinity": {}}}),
        {"kind": "Pod", "metadata": {"name": "no-status", "namespace": "ns"}, "spec": {}},
    )
    outcome = asyncio.run(run_one(PLAYBOOK, Context(snap)))
    assert outcome.status in ("ok", "findings"), outcome.error


def test_a_node_with_room_among_tainted_ones_is_a_near_miss_for_the_taint_cause():
    tainted = {"taints": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]}
    snap = _snapshot(
        _node("a", spec=tainted),
        _node("b"),
        _pending("p", message="0/2 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint(s)."),
    )
    found = asyncio.run(PLAYBOOK.run(Context(snap)))
    assert not [f for f in found if f.cause.startswith("taint:")]
    [f] = found  # still stuck, so still reported, with the scheduler's own words
    assert "1 Too many pods" in f.explanation and f.fixes == ()


@pytest.mark.parametrize(
    ("free", "pods", "size"),
    [
        (["2944Mi", "3968Mi"], 2, "2944Mi"),  # one pod on each node: the smaller node decides
        (["3968Mi", "100Mi"], 2, "1984Mi"),  # both on the big node
        (["4Gi", "4Gi"], 1, "4Gi"),
        (["-1Gi", "0"], 1, "0"),  # overcommitted nodes have no room at all
        ([], 3, "0"),
    ],
)
def test_lowered_requests_fit_every_pending_pod(free, pods, size):
    assert fitting_request([quantity.parse(f) for f in free], pods) == quantity.parse(size)
