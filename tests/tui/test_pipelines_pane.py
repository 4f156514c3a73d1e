"""The pipelines pane on the demo's GitHub Actions history: what the on-call engineer sees of CI."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from aiohttp.test_utils import TestServer
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

import sandbox.scenario
from diagnostics.github import GitHubSettings, SetupNeeded
from sandbox.clock import Clock
from sandbox.github import make_github_app
from tui.widgets.pipelines_pane import PipelinesPane

TOKEN = "ghp_demo_sandbox_token"
FAILED_DEPLOY, WAITING_DEPLOY, RUNNING_CI = "11900000358", "11900000359", "11900000216"
CONFLICT = "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph"


class Host(App[None]):
    def __init__(self, pane: PipelinesPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


@pytest_asyncio.fixture
async def api() -> AsyncIterator[str]:
    app = make_github_app(sandbox.scenario.load("demo").github, Clock(speed=100), TOKEN)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/")


def _settings(base_url: str) -> GitHubSettings:
    return GitHubSettings(base_url, TOKEN, "coditect", "license-platform")


async def until(pilot: Pilot[None], ready: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


def _text(app: App[None], selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def _status(table: DataTable[object], run_id: str) -> str:
    return str(table.get_cell(run_id, "STATUS")) if run_id in {k.value for k in table.rows} else ""


async def test_runs_show_failed_deploys_and_the_one_waiting_for_staging(api: str) -> None:
    app = Host(PipelinesPane(_settings(api)))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#pipelines-runs", DataTable)
        await until(pilot, lambda: table.row_count == 8, "the demo's eight runs")
        assert [str(c.label) for c in table.columns.values()] == [
            "WORKFLOW",
            "#",
            "BRANCH",
            "EVENT",
            "STATUS",
            "DURATION",
            "AGE",
        ]
        assert [str(c) for c in table.get_row(FAILED_DEPLOY)[:4]] == ["Deploy staging", "58", "main", "push"]
        assert _status(table, FAILED_DEPLOY) == "failure"
        assert table.get_cell(FAILED_DEPLOY, "STATUS").style == "red"
        assert _status(table, WAITING_DEPLOY) == "waiting for approval: staging"
        assert table.get_cell(WAITING_DEPLOY, "STATUS").style == "yellow"
        assert _status(table, "11900000212") == "success"
        assert table.get_cell(FAILED_DEPLOY, "AGE") == "27h"
        assert "coditect/license-platform · 8 runs" in _text(app, "#pipelines-status")


async def test_highlighting_the_failed_deploy_shows_the_broken_step_and_its_log(api: str) -> None:
    app = Host(PipelinesPane(_settings(api)))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#pipelines-runs", DataTable)
        await until(pilot, lambda: table.row_count == 8, "the runs")
        table.focus()
        while table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value != FAILED_DEPLOY:
            await pilot.press("down")
        await until(pilot, lambda: "Run migrations" in _text(app, "#pipelines-jobs"), "the deploy's steps")
        detail = _text(app, "#pipelines-jobs")
        assert detail.startswith("Deploy staging #58 · main · c3f81a6 · sam-chen")
        assert "✓ Build images" in detail and "✗ Deploy to staging" in detail
        assert "✓ Build images  5m2s  (11 steps)" in detail  # what passed stays folded
        assert "    ✗ Run migrations\n    - Wait for rollout" in detail
        log = detail[detail.index("    log:") :].splitlines()
        assert log[1:3] == [
            "      error: timed out waiting for the condition on jobs/coditect-backend-migration",
            f"      {CONFLICT}: (0002_add_renewal_fields, 0006_phase1_step6_license_sessions in licenses).",
        ]
        assert detail.endswith(f"/coditect/license-platform/actions/runs/{FAILED_DEPLOY}")

        await pilot.press("up", "up")  # past CI #215 to the manual deploy, waiting for a review of staging
        await until(pilot, lambda: "Deploy staging #59" in _text(app, "#pipelines-jobs"), "the waiting run")
        await until(pilot, lambda: "reviewers" in _text(app, "#pipelines-jobs"), "its pending deployment")
        assert "● waiting for approval: staging (reviewers: hal-okafor, priya-raman)" in _text(app, "#pipelines-jobs")


async def test_a_running_pipeline_finishes_while_the_pane_watches(api: str) -> None:
    app = Host(PipelinesPane(_settings(api), refresh_interval=0.1))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#pipelines-runs", DataTable)
        await until(pilot, lambda: _status(table, RUNNING_CI) == "success", "CI #216 to go green", timeout=15)
        assert table.row_count == 8


async def test_without_a_token_the_pane_says_how_to_set_one_up() -> None:
    message = "Set GITHUB_TOKEN to a token with actions:read for coditect/license-platform"
    app = Host(PipelinesPane(SetupNeeded(message)))
    async with app.run_test(size=(120, 40)):
        assert _text(app, "#pipelines-setup") == message
        assert not app.query(DataTable)


async def test_a_github_api_that_is_down_is_one_line_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pane = PipelinesPane(_settings(f"http://127.0.0.1:{port}"), refresh_interval=0.1)
    app = Host(pane)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "cannot reach" in _text(app, "#pipelines-status"), "the error line")
        status = app.query_one("#pipelines-status", Static)
        assert _text(app, "#pipelines-status") == (
            f"✗ cannot reach the GitHub API at http://127.0.0.1:{port} (connection refused) — retrying every 0.1s"
        )
        assert status.has_class("-error") and app.query_one("#pipelines-runs", DataTable).row_count == 0
        await pilot.press("r")
        await pilot.pause()
        assert app.is_running


async def test_the_pane_stops_asking_when_it_is_removed(api: str) -> None:
    pane = PipelinesPane(_settings(api), refresh_interval=0.1)
    app = Host(pane)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: pane.query_one("#pipelines-runs", DataTable).row_count == 8, "the runs")
        worker = pane._poller
        assert worker is not None and worker.is_running
        await pane.remove()
        await until(pilot, lambda: worker.is_finished, "the pane's worker to be cancelled")
