"""`--pods N` adds N healthy Running pods over namespaces and Deployments, with the nodes to hold them."""

from __future__ import annotations

from collections import Counter

from tests.conftest import wait_for


def test_extra_pods_come_up_running_spread_over_namespaces_and_nodes(sandbox_factory):
    rs = sandbox_factory("empty", extra_pods=230, clock_speed=100)

    def running() -> list[dict]:
        return [
            p
            for p in rs.list("v1", "Pod")
            if p["metadata"]["namespace"].startswith("bench-") and p.get("status", {}).get("phase") == "Running"
        ]

    pods = wait_for(lambda: (lambda r: r if len(r) == 230 else None)(running()), timeout=60, what="230 running pods")
    namespaces = Counter(p["metadata"]["namespace"] for p in pods)
    deployments = {
        (p["metadata"]["namespace"], p["metadata"]["ownerReferences"][0]["name"].rsplit("-", 1)[0]) for p in pods
    }
    assert len(namespaces) == 5 and len(deployments) == 5  # 50 pods a Deployment, one per namespace until the tenth
    nodes = [n["metadata"]["name"] for n in rs.list("v1", "Node")]
    assert len(nodes) == 3 + 3  # the scenario's three, plus enough for 230 pods at 110 a node with headroom
    per_node = Counter(p["spec"]["nodeName"] for p in pods)
    assert max(per_node.values()) <= 110
