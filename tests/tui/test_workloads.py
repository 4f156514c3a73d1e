"""The Workloads tab: Deployments, StatefulSets and DaemonSets as kubectl shows them; enter opens one, g makes a Job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App, ComposeResult

from diagnostics.snapshot import Snapshot
from tests.playbooks.demo import NS
from tests.tui.test_app_flows import SIZE, make_app, until
from tests.tui.test_app_flows import demo_cluster as demo_cluster  # the fixture
from tests.tui.test_details import described
from tui.screens.details import DetailsScreen
from tui.screens.diff_review import DiffReview
from tui.widgets.workloads import WorkloadsPane

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def workload(
    kind: str, name: str, desired: int, ready: int, updated: int | None = None, rv: str = "1"
) -> dict[str, Any]:
    updated = ready if updated is None else updated
    meta = {
        "name": name,
        "namespace": "shop",
        "uid": f"uid-{kind}-{name}",
        "resourceVersion": rv,
        "creationTimestamp": (NOW - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    template = {"spec": {"containers": [{"name": "app", "image": f"registry.example/{name}:1.2"}]}}
    if kind == "DaemonSet":
        status = {
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": ready,
        }
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": meta,
            "spec": {"template": template},
            "status": status,
        }
    status = {"readyReplicas": ready, "updatedReplicas": updated, "availableReplicas": ready}
    spec = {"replicas": desired, "template": template}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec, "status": status}


class PaneApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[tuple[str, str, str]] = []
        self.generate: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield WorkloadsPane()

    def on_workloads_pane_workload_selected(self, msg: WorkloadsPane.WorkloadSelected) -> None:
        self.opened.append((msg.kind, msg.namespace, msg.name))

    def on_workloads_pane_generate_job(self, msg: WorkloadsPane.GenerateJob) -> None:
        self.generate.append((msg.namespace, msg.name))


def cells(pane: WorkloadsPane, name: str) -> list[str]:
    row = next(r for r in pane.table.shown_rows if r.key.endswith("/" + name))
    return [str(c(pane.table.clock()) if callable(c) else c) for c in row.cells]


def colour(pane: WorkloadsPane, name: str) -> str:
    row = next(r for r in pane.table.shown_rows if r.key.endswith("/" + name))
    return str(row.cells[3].style)  # type: ignore[union-attr]


async def test_rows_read_like_kubectl_coloured_by_health_reused_until_changed_and_enter_opens():
    objects = [
        workload("Deployment", "web", 3, 3),
        workload("Deployment", "api", 2, 1, 2),
        workload("StatefulSet", "db", 1, 0),
        workload("DaemonSet", "agent", 3, 3),
    ]
    app = PaneApp()
    async with app.run_test(size=(140, 20)) as pilot:
        pane = app.query_one(WorkloadsPane)
        pane.show(Snapshot.from_objects("c", objects), NOW)
        await pilot.pause()
        assert cells(pane, "web")[:7] == ["Deployment", "shop", "web", "3/3", "3", "3", "90m"]
        assert cells(pane, "agent")[:4] == ["DaemonSet", "shop", "agent", "3/3"]
        assert (colour(pane, "web"), colour(pane, "api"), colour(pane, "db")) == ("green", "yellow", "red")
        assert cells(pane, "db")[7] == "registry.example/db:1.2"
        before = {r.key: r for r in pane.table.shown_rows}
        objects[1] = workload("Deployment", "api", 2, 2, rv="2")
        pane.show(Snapshot.from_objects("c", objects), NOW)
        after = {r.key: r for r in pane.table.shown_rows}
        assert after["Deployment/shop/web"] is before["Deployment/shop/web"], "an unchanged workload keeps its row"
        assert colour(pane, "api") == "green"
        pane.focus_table()
        assert pane.table.move_cursor_to("StatefulSet/shop/db")
        await pilot.press("enter", "g")
        await pilot.pause()
        assert app.opened == [("StatefulSet", "shop", "db")]
        assert app.generate == [], "g only works on a Deployment"
        assert pane.table.move_cursor_to("Deployment/shop/api")
        await pilot.press("g")
        await pilot.pause()
        assert app.generate == [("shop", "api")]


async def test_forbidden_kinds_are_said_not_shown_as_empty():
    app = PaneApp()
    async with app.run_test(size=(140, 20)) as pilot:
        pane = app.query_one(WorkloadsPane)
        pane.show(Snapshot.from_objects("c", [], forbidden={"Deployment", "StatefulSet", "DaemonSet"}), NOW)
        await pilot.pause()
        assert pane.table.render_line(0).text.strip().startswith("could not list deployments: forbidden")
        pane.show(Snapshot.from_objects("c", [workload("Deployment", "web", 1, 1)], forbidden={"DaemonSet"}), NOW)
        await pilot.pause()
        assert "could not list daemonsets: forbidden" in str(pane.table.border_subtitle)


async def test_enter_on_the_backend_deployment_opens_its_details_and_g_reviews_its_migration_job(
    demo_cluster, tmp_path
):
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None, what="the cluster")
        await pilot.press("4")
        pane = app.query_one(WorkloadsPane)
        await until(
            pilot, lambda: pane.table.move_cursor_to(f"Deployment/{NS}/coditect-backend"), what="the backend row"
        )
        await pilot.press("enter")
        details = await until(pilot, lambda: isinstance(app.screen, DetailsScreen) and app.screen, what="details")
        title = str(details.query_one("#details-title").content)
        assert title == f"Deployment {NS}/coditect-backend"
        assert "Replicas         2 desired" in described(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, what="back on the main screen")
        await pilot.press("g")
        review = await until(pilot, lambda: isinstance(app.screen, DiffReview) and app.screen, what="the Job review")
        assert review.fix is not None and review.fix.target.path == "k8s/staging/migration-job.yaml"  # type: ignore[union-attr]


async def test_slash_filters_the_table_of_the_visible_tab(demo_cluster, tmp_path):
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None, what="the cluster")
        await pilot.press("4")
        pane = app.query_one(WorkloadsPane)
        await until(pilot, lambda: len(pane.table.shown_rows) > 2, what="the workloads")
        pods_before = len(app.main.query_one("#pods").shown_rows)
        await pilot.press("slash", *"worker", "enter")
        await until(
            pilot,
            lambda: [r.key for r in pane.table.shown_rows] == [f"Deployment/{NS}/coditect-worker"],
            what="only the worker",
        )
        assert len(app.main.query_one("#pods").shown_rows) == pods_before, "the pods table is not filtered"
        assert app.focused is pane.table
        await pilot.press("slash", "escape")
        await until(pilot, lambda: len(pane.table.shown_rows) > 2, what="the filter cleared")
