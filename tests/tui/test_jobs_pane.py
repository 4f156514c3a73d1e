"""The jobs pane answers "did the migration run, and did last night's report?" at a glance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App, ComposeResult

from diagnostics.cache import load_snapshot
from diagnostics.kube import KubeClient
from diagnostics.kubeconfig import load
from diagnostics.snapshot import Snapshot
from tests.conftest import wait_for
from tests.playbooks.demo import NS, settled
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.resource_table import ResourceTable

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SIZE = (120, 40)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(ctype: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"type": ctype, "status": "True", "reason": reason, "message": message, "lastTransitionTime": stamp(60)}


def job(
    name: str, status: dict[str, Any], *, age: float = 600, owner: str | None = None, **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "coditect-staging",
        "uid": f"uid-{name}",
        "resourceVersion": "7",
        "creationTimestamp": stamp(age),
        "labels": {"app.kubernetes.io/part-of": "coditect"},
    }
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "CronJob", "name": owner, "uid": f"uid-{owner}", "controller": True}
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {"backoffLimit": 2, "completions": 1, "parallelism": 1, **spec},
        "status": status,
    }


def cronjob(name: str, schedule: str, last: float | None, *, suspend: bool = False, active: int = 0) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if last is not None:
        status["lastScheduleTime"] = stamp(last)
    if active:
        status["active"] = [{"kind": "Job", "namespace": "coditect-staging", "name": f"{name}-run"}]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "namespace": "coditect-staging",
            "uid": f"uid-{name}",
            "creationTimestamp": stamp(86400 * 30),
        },
        "spec": {"schedule": schedule, "suspend": suspend, "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {}}},
        "status": status,
    }


def objects() -> list[dict[str, Any]]:
    return [
        job("coditect-backend-migration", {"active": 1, "ready": 0, "startTime": stamp(300)}),
        job(
            "coditect-backend-migration-v105",
            {
                "failed": 3,
                "startTime": stamp(7200),
                "conditions": [
                    condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
                ],
            },
            age=7200,
        ),
        job(
            "coditect-nightly-report-29920200",
            {
                "succeeded": 1,
                "startTime": stamp(86400 + 27000),
                "completionTime": stamp(86400 + 27000 - 42),
                "conditions": [condition("Complete", "CompletionsReached")],
            },
            age=86400 + 27000,
            owner="coditect-nightly-report",
        ),
        job(
            "coditect-nightly-report-29921640",
            {"failed": 2, "startTime": stamp(27000), "conditions": [condition("Failed", "BackoffLimitExceeded")]},
            age=27000,
            owner="coditect-nightly-report",
        ),
        job(
            "coditect-reindex",
            {"conditions": [condition("Suspended", "JobSuspended")]},
            suspend=True,
            completions=None,
            parallelism=4,
        ),
        cronjob("coditect-nightly-report", "0 2 * * *", 27000),
        cronjob("coditect-license-expiry", "*/15 * * * *", None, suspend=True),
    ]


class PaneApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[tuple[str, str, str]] = []

    def compose(self) -> ComposeResult:
        yield JobsPane()

    def on_jobs_pane_job_selected(self, message: JobsPane.JobSelected) -> None:
        self.selected.append((message.kind, message.namespace, message.name))


def row_of(table: ResourceTable, name: str) -> tuple[str, ...]:
    found = next(r for r in table.shown_rows if r.key.endswith("/" + name))
    return tuple(c if isinstance(c, str) else c.plain for c in found.cells)


async def test_jobs_show_status_completions_duration_and_failed_pods():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(JobsPane)
        pane.show(Snapshot.from_objects("gke_coditect_staging", objects()), NOW)
        await pilot.pause()
        assert row_of(pane.jobs, "coditect-backend-migration")[2:] == ("Running", "0/1", "5m", "0", "10m")
        assert row_of(pane.jobs, "coditect-backend-migration-v105")[2:] == ("Failed", "0/1", "120m", "3", "120m")
        assert row_of(pane.jobs, "coditect-nightly-report-29920200")[2:5] == ("Complete", "1/1", "42s")
        assert row_of(pane.jobs, "coditect-reindex")[2:5] == ("Suspended", "0/1 of 4", "")
        screen = "\n".join(pane.jobs.render_line(y).text for y in range(8))
        assert "FAILED PODS" in screen and "BackoffLimit" not in screen


async def test_cronjobs_show_last_schedule_and_how_the_newest_job_ended():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(JobsPane)
        pane.show(Snapshot.from_objects("gke_coditect_staging", objects()), NOW)
        await pilot.pause()
        assert row_of(pane.cronjobs, "coditect-nightly-report")[2:] == ("0 2 * * *", "False", "0", "7h30m", "Failed")
        assert row_of(pane.cronjobs, "coditect-license-expiry")[2:] == ("*/15 * * * *", "True", "0", "<none>", "<none>")


async def test_enter_opens_the_job_or_cronjob_and_forbidden_kinds_say_so():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(JobsPane)
        pane.show(Snapshot.from_objects("gke_coditect_staging", objects()), NOW)
        pane.focus_jobs()
        await pilot.pause()
        assert pane.jobs.move_cursor_to("coditect-staging/coditect-backend-migration")
        await pilot.press("enter")
        pane.cronjobs.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [
            ("Job", "coditect-staging", "coditect-backend-migration"),
            ("CronJob", "coditect-staging", "coditect-license-expiry"),
        ]
        jobs_only = [o for o in objects() if o["kind"] == "Job"]
        pane.show(Snapshot.from_objects("gke_coditect_staging", jobs_only, forbidden={"CronJob"}), NOW)
        await pilot.pause()
        assert pane.cronjobs.render_line(0).text.strip() == "could not list cronjobs: forbidden"


async def test_demo_shows_the_migration_job_running_and_the_nightly_report_scheduled(sandbox_factory):
    rs = sandbox_factory("demo", clock_speed=100)
    wait_for(lambda: settled(rs), what="the demo's incidents to show")
    wait_for(
        lambda: (
            (rs.get("batch/v1", "CronJob", NS, "coditect-nightly-report") or {})
            .get("status", {})
            .get("lastScheduleTime")
        ),
        what="the nightly report's missed run to be scheduled",
    )
    async with KubeClient(load(str(rs.kubeconfig))) as kube:
        snap = await load_snapshot(kube)
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(JobsPane)
        pane.show(snap, datetime.now(UTC))
        await pilot.pause()
        assert row_of(pane.jobs, "coditect-backend-migration")[2:4] == ("Running", "0/1")
        nightly = row_of(pane.cronjobs, "coditect-nightly-report")
        assert nightly[2] == "0 2 * * *"
        assert nightly[5] != "<none>", "the missed run of 02:00 was scheduled"
        assert nightly[6] in ("Running", "Complete")
