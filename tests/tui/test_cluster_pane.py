"""The cluster pane shows what kubectl shows — the real reasons, coloured — and keeps up with 10,000 pods."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.style import Style
from textual.app import App, ComposeResult

from diagnostics.cache import load_snapshot
from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import load
from diagnostics.podstatus import pod_status
from diagnostics.snapshot import Snapshot
from tests.conftest import wait_for
from tests.playbooks.demo import NS, settled
from tui.widgets.cluster_pane import ClusterPane
from tui.widgets.resource_table import ResourceTable

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SIZE = (120, 40)
POOL = "gke-coditect-staging-primary-node-pool"


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    name: str, labels: dict[str, str], *, ready: bool = True, cpu: str = "3920m", memory: str = "13Gi"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": "100",
            "labels": labels,
            "creationTimestamp": stamp(86400 * 9),
        },
        "spec": {"podCIDR": "10.52.0.0/24", "providerID": f"gce://coditect-cloud-infra/us-central1-a/{name}"},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "47093746742"},
            "capacity": {"cpu": "4", "memory": "16393220Ki", "pods": "110"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {
                    "type": "Ready",
                    "status": "True" if ready else "Unknown",
                    "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                },
            ],
            "nodeInfo": {"kubeletVersion": "v1.32.2-gke.1182003", "containerRuntimeVersion": "containerd://1.7.24"},
        },
    }


def pod(
    name: str,
    state: dict[str, Any] | None,
    *,
    node_name: str | None = f"{POOL}-6f1c9a2e-4m7q",
    phase: str = "Running",
    namespace: str = "coditect-staging",
    cpu: str = "250m",
    memory: str = "512Mi",
    restarts: int = 0,
    last_exit: float | None = None,
    age: float = 3600,
    ready: bool = False,
    version: str = "1",
) -> dict[str, Any]:
    """A pod as the API returns it; `state` is the container's state (`{"waiting": {...}}`), None before it is created."""
    status: dict[str, Any] = {"phase": phase, "qosClass": "Burstable", "startTime": stamp(age)}
    if state is not None:
        last = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(last_exit)}} if last_exit else {}
        status["containerStatuses"] = [
            {
                "name": "app",
                "image": "backend:v1.0.6-staging",
                "ready": ready,
                "restartCount": restarts,
                "state": state,
                "lastState": last,
            }
        ]
    if node_name is None:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
            }
        ]
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "app",
                "image": "backend:v1.0.6-staging",
                "resources": {"requests": {"cpu": cpu, "memory": memory}},
            }
        ]
    }
    if node_name:
        spec["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "resourceVersion": version,
            "creationTimestamp": stamp(age),
        },
        "spec": spec,
        "status": status,
    }


def incident_objects() -> list[dict[str, Any]]:
    """The demo's broken deploy: every reason an on-call engineer meets, next to healthy pods."""
    return [
        node(f"{POOL}-6f1c9a2e-4m7q", {"cloud.google.com/gke-nodepool": "primary-node-pool"}),
        node(f"{POOL}-b83d0e57-jx2p", {"cloud.google.com/gke-nodepool": "primary-node-pool"}, ready=False),
        node(
            "ip-10-0-3-17.ec2.internal",
            {"eks.amazonaws.com/nodegroup": "workers", "node.kubernetes.io/instance-type": "m5.xlarge"},
        ),
        pod(
            "coditect-frontend-7748876f7d-h62st",
            {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "gcr.io/coditect/frontend"'}},
        ),
        pod(
            "coditect-backend-5499dd8bbc-8gkmq",
            {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}},
            restarts=5,
            last_exit=125,
        ),
        pod(
            "coditect-backend-migration-mhbmk",
            {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": "couldn't find key db-password in Secret coditect-staging/backend-secrets",
                }
            },
            phase="Pending",
        ),
        pod("coditect-worker-d66479b4b-8j926", None, node_name=None, phase="Pending"),
        pod(
            "coditect-docs-6ddb66bb9-wvfnr", {"running": {"startedAt": stamp(3500)}}, ready=True, cpu="1", memory="1Gi"
        ),
        pod(
            "coditect-nightly-report-29920440-lsgx8",
            {"terminated": {"exitCode": 0, "reason": "Completed"}},
            phase="Succeeded",
            cpu="2",
            age=86400 * 2 + 3 * 3600,
        ),
        pod("coredns-8579c6f7b-6cnnp", {"running": {}}, namespace="kube-system", ready=True, cpu="100m", memory="70Mi"),
    ]


class PaneApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield ClusterPane()

    def on_cluster_pane_pod_selected(self, message: ClusterPane.PodSelected) -> None:
        self.selected.append((message.namespace, message.name))


def screen_lines(table: ResourceTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


def style_of(table: ResourceTable, text: str) -> Style:
    for y in range(table.scrollable_content_region.height):
        for segment in table.render_line(y):
            if segment.text.strip() == text and segment.style is not None:
                return segment.style
    raise AssertionError(f"{text!r} is not on screen")


def colour_of(table: ResourceTable, text: str) -> str | None:
    color = style_of(table, text).color
    return color.name if color else None


def row_of(table: ResourceTable, name: str) -> tuple[str, ...]:
    """The row's texts as drawn now (live cells such as AGE worked out at the table's clock)."""
    found = next(r for r in table.shown_rows if r.key.endswith("/" + name) or r.key == name)
    cells = [c(table.clock()) if callable(c) else c for c in found.cells]
    return tuple(c if isinstance(c, str) else c.plain for c in cells)


async def test_broken_deploy_shows_each_pods_real_reason_in_its_colour():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ClusterPane)
        pane.show(Snapshot.from_objects("gke_coditect_staging", incident_objects()), NOW)
        await pilot.pause()
        text = "\n".join(screen_lines(pane.pods))
        for reason in (
            "ImagePullBackOff",
            "CrashLoopBackOff",
            "CreateContainerConfigError",
            "Pending",
            "Running",
            "Completed",
        ):
            assert reason in text, f"{reason} is on screen"
        for reason in ("ImagePullBackOff", "CrashLoopBackOff", "CreateContainerConfigError"):
            assert colour_of(pane.pods, reason) == "red"
        assert colour_of(pane.pods, "Pending") == "yellow"
        assert colour_of(pane.pods, "Running") == "green"
        assert style_of(pane.pods, "Completed").dim
        backend = row_of(pane.pods, "coditect-backend-5499dd8bbc-8gkmq")
        assert backend[2:6] == ("0/1", "CrashLoopBackOff", "5 (2m5s ago)", "60m")
        assert row_of(pane.pods, "coditect-worker-d66479b4b-8j926")[6] == "", "an unscheduled pod has no node"
        assert row_of(pane.pods, "coditect-nightly-report-29920440-lsgx8")[5] == "2d3h"


async def test_nodes_show_pool_readiness_and_what_running_pods_request():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ClusterPane)
        pane.show(Snapshot.from_objects("gke_coditect_staging", incident_objects()), NOW)
        await pilot.pause()
        first = row_of(pane.nodes, f"{POOL}-6f1c9a2e-4m7q")
        # frontend, backend, migration 250m, docs 1, coredns 100m: the finished report's 2 cores are free again
        assert first[1:] == ("Ready", "5/110", "1850m/3920m 47%", "2630Mi/13Gi 19%", "primary-node-pool")
        assert row_of(pane.nodes, f"{POOL}-b83d0e57-jx2p")[1::4] == ("NotReady", "primary-node-pool")
        assert colour_of(pane.nodes, "NotReady") == "red"
        assert row_of(pane.nodes, "ip-10-0-3-17.ec2.internal")[2:] == ("0/110", "0/3920m 0%", "0Mi/13Gi 0%", "workers")


async def test_forbidden_pods_say_so_instead_of_an_empty_table():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ClusterPane)
        nodes_only = [o for o in incident_objects() if o["kind"] == "Node"]
        pane.show(Snapshot.from_objects("gke_coditect_staging", nodes_only, forbidden={"Pod"}), NOW)
        await pilot.pause()
        assert screen_lines(pane.pods)[0].strip() == "could not list pods: forbidden"
        assert not any(line.strip() for line in screen_lines(pane.pods)[1:])
        assert row_of(pane.nodes, f"{POOL}-6f1c9a2e-4m7q")[2:5] == ("?", "?/3920m", "?/13Gi")
        pane.show(Snapshot.from_objects("gke_coditect_staging", incident_objects(), forbidden={"Node"}), NOW)
        await pilot.pause()
        assert screen_lines(pane.nodes)[0].strip() == "could not list nodes: forbidden"
        assert "CrashLoopBackOff" in "\n".join(screen_lines(pane.pods)), "access to pods came back"


async def test_enter_on_a_pod_opens_it_and_the_filter_narrows_the_pods():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ClusterPane)
        pane.show(Snapshot.from_objects("gke_coditect_staging", incident_objects()), NOW)
        pane.focus_pods()
        await pilot.pause()
        pane.set_filter("migration")
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [("coditect-staging", "coditect-backend-migration-mhbmk")]
        assert str(pane.pods.border_subtitle).endswith("1/7")
        pane.set_filter(f"{POOL}-6f1c9a2e")  # a node's name shows the pods on it
        assert len(pane.pods.shown_rows) == 6


async def test_ten_thousand_pods_repaint_cheaply_and_ages_move_on():
    objects = [node(f"{POOL}-{i}", {"cloud.google.com/gke-nodepool": "primary-node-pool"}) for i in range(50)]
    for i in range(10_000):
        state = {"running": {}} if i % 10 else {"waiting": {"reason": "CrashLoopBackOff"}}
        objects.append(
            pod(
                f"load-{i:05d}",
                state,
                node_name=f"{POOL}-{i % 50}",
                ready=bool(i % 10),
                restarts=i % 10 == 0,
                last_exit=90,
                age=86400 * 3 + i,
            )
        )
    snap = Snapshot.from_objects("bench", objects)
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ClusterPane)
        await pilot.pause()
        started = time.perf_counter()
        pane.show(snap, NOW)
        first = time.perf_counter() - started
        before = {r.key: r for r in pane.pods.shown_rows}
        started = time.perf_counter()
        pane.show(snap, NOW + timedelta(seconds=1))
        again = time.perf_counter() - started
        print(f"\nClusterPane.show, 10,000 pods: first {first * 1000:.0f} ms, next repaint {again * 1000:.0f} ms")
        await pilot.pause()
        after = pane.pods.shown_rows
        assert all(before[r.key] is r for r in after), "unchanged pods keep their rows: AGE and RESTARTS are live"
        assert row_of(pane.pods, "load-00000")[4] == "1 (91s ago)", "the restart age moved on"
        assert row_of(pane.nodes, f"{POOL}-0")[2] == "200/110"
        pane.show(snap, NOW + timedelta(days=5))
        assert row_of(pane.pods, "load-00001")[5] == "8d"


async def test_demo_cluster_pods_show_the_seeded_incidents(sandbox_factory):
    rs = sandbox_factory("demo", clock_speed=100)
    wait_for(lambda: settled(rs), what="the demo's incidents to show")
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        snap = await load_snapshot(kube)
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ClusterPane)
        pane.show(snap, datetime.now(UTC))
        await pilot.pause()
        statuses = {row_of(pane.pods, p["metadata"]["name"])[3] for p in snap.list("Pod", NS)}
        assert {"CreateContainerConfigError", "Pending"} <= statuses
        assert statuses & {"ImagePullBackOff", "ErrImagePull"}
        assert statuses == {pod_status(p) for p in snap.list("Pod", NS)}
        assert len(pane.nodes.shown_rows) == 3
        assert {row_of(pane.nodes, n["metadata"]["name"])[5] for n in snap.list("Node")} == {"primary-node-pool"}
