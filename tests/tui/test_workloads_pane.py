"""On call with a broken rollout: find it among the workloads, open it, read why — pods, conditions, rollout, logs."""

from __future__ import annotations

from typing import Any

from textual.widgets import Log, Static, TabbedContent

from diagnostics.snapshot import Snapshot
from tests.playbooks.demo import NS
from tests.tui.canned import SIZE, offline_app
from tests.tui.test_app_flows import demo_cluster as demo_cluster  # the fixture
from tests.tui.test_app_flows import make_app, until
from tests.tui.test_details import described
from tests.tui.test_workloads import NOW, PaneApp, workload
from tui.screens.details import DetailsScreen
from tui.screens.help import HelpScreen
from tui.widgets.workloads import WorkloadsPane


def names(pane: WorkloadsPane) -> list[str]:
    return [row.key.split("/", 2)[2] for row in pane.table.shown_rows]


async def test_filter_narrows_to_the_broken_workload_and_sorting_by_ready_puts_it_first() -> None:
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
        pane.set_filter("db")
        assert names(pane) == ["db"]
        pane.set_filter("statefulset")
        assert names(pane) == ["db"], "the KIND column is searched too"
        pane.set_filter("registry.example/api")
        assert names(pane) == ["api"], "and the images"
        pane.set_filter("")
        assert sorted(names(pane)) == ["agent", "api", "db", "web"]
        pane.table.sort_by("ready")
        assert names(pane)[:2] == ["db", "api"], "none available, then rolling out, then the healthy ones"


async def test_every_workload_command_jumps_to_the_tab_and_enter_describes_the_backend_offline() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.query_one(TabbedContent)
        pane = app.query_one(WorkloadsPane)
        for verb in ("deploy", "deployments", "sts", "ds", "workloads"):
            await pilot.press("1", "colon", *verb, "enter")
            assert tabs.active == "tab-workloads", f":{verb}"
            assert app.focused is pane.table, f":{verb} leaves the cursor in the workloads table"
        await pilot.press("1", "4")
        assert tabs.active == "tab-workloads" and app.focused is pane.table
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert any(":deploy" in keys for keys, _ in app.screen.commands)
        await pilot.press("escape")
        assert pane.table.move_cursor_to(f"Deployment/{NS}/coditect-backend")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), what="the details")
        text = described(app)  # type: ignore[arg-type]
        for expected in (
            "Selector         app.kubernetes.io/name=coditect-backend",
            "Strategy         RollingUpdate · max unavailable 0 · max surge 1",
            "MinimumReplicasUnavailable",
            "ReplicaSets",
            "coditect-backend-5499dd8bbc  1 (new)",
            "CrashLoopBackOff",
        ):
            assert expected in text, f"{expected!r} missing from:\n{text}"


async def test_enter_on_the_crash_looping_backend_shows_its_pods_conditions_and_logs(demo_cluster, tmp_path) -> None:
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None, what="the cluster")
        await pilot.press("4")
        pane = app.query_one(WorkloadsPane)
        backend = f"Deployment/{NS}/coditect-backend"
        await until(pilot, lambda: pane.table.move_cursor_to(backend), what="the backend row")
        await pilot.press("enter")
        details: Any = await until(pilot, lambda: isinstance(app.screen, DetailsScreen) and app.screen, what="details")
        assert str(details.query_one("#details-title", Static).content) == f"Deployment {NS}/coditect-backend"
        text = described(app)  # type: ignore[arg-type]
        pods = [p["metadata"]["name"] for p in details.snapshot.pods_of(details.obj)]
        assert len(pods) == 2 and all(name in text for name in pods), f"the backend's pods {pods} in:\n{text}"
        conditions = text[text.index("Conditions") : text.index("Pods")]
        assert "Available" in conditions and "False" in conditions, conditions
        assert "Strategy         RollingUpdate · max unavailable 0 · max surge 1" in text
        await pilot.press("l")
        log = details.query_one(Log)
        await until(pilot, lambda: log.line_count > 0, what="the backend's logs from the cluster")
        assert details.pod["metadata"]["name"] in pods
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen is app.main, what="back on the main screen")
