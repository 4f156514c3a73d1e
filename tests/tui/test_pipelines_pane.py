"""The pipelines pane on the demo's GitHub Actions history: what the on-call engineer sees of CI."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

import sandbox.scenario
from diagnostics.github import GitHubClient, GitHubSettings, SetupNeeded
from sandbox.clock import Clock
from sandbox.github import make_github_app
from tui.screens.confirm_action import ConfirmAction
from tui.screens.help import HelpScreen
from tui.widgets.key_bar import KeyBar
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


# --- acting on a run: approve, reject, re-run failed jobs -------------------------------------------

GREEN_CI = "11900000212"


class Console(App[None]):
    """The pane as the app shows it: with the key bar at the bottom."""

    def __init__(self, pane: PipelinesPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane
        yield KeyBar()


def _pane(api: str, **options: Any) -> PipelinesPane:
    return PipelinesPane(_settings(api), refresh_interval=0.2, **options)


async def highlight(pilot: Pilot[None], app: App[None], run_id: str) -> DataTable[object]:
    """Focus the runs table and put the cursor on `run_id`, as the arrow keys would."""
    table = app.query_one("#pipelines-runs", DataTable)
    await until(pilot, lambda: run_id in {k.value for k in table.rows}, f"run {run_id}")
    table.focus()
    table.move_cursor(row=table.get_row_index(run_id))
    await until(pilot, lambda: app.query_one(PipelinesPane).selected == int(run_id), f"run {run_id} highlighted")
    return table


def notes(app: App[None]) -> list[str]:
    return [n.message for n in app._notifications]


async def confirm_dialog(pilot: Pilot[None], app: App[None]) -> ConfirmAction:
    await until(pilot, lambda: isinstance(app.screen, ConfirmAction), "the confirmation")
    assert isinstance(app.screen, ConfirmAction)
    return app.screen


async def test_approving_the_waiting_deploy_after_confirming_lets_it_proceed(api: str) -> None:
    app = Host(_pane(api))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await highlight(pilot, app, WAITING_DEPLOY)
        await pilot.press("a")
        dialog = await confirm_dialog(pilot, app)
        said = dialog.text
        assert "Approve the deployment of Deploy staging #59 to staging?" in said
        assert "workflow     Deploy staging" in said and "environment  staging" in said
        assert f"#59 (id {WAITING_DEPLOY}) · main · c3f81a6 · priya-raman" in said
        assert "This cannot be undone" in said
        assert _status(table, WAITING_DEPLOY) == "waiting for approval: staging"  # nothing sent before y
        await pilot.press("y")
        await until(pilot, lambda: _status(table, WAITING_DEPLOY) == "in progress", "the deploy to proceed")
        await until(pilot, lambda: notes(app), "the outcome")
        assert notes(app) == ["Approved Deploy staging #59 for staging; its deployment proceeds."]
        await until(pilot, lambda: "waiting for approval" not in _text(app, "#pipelines-jobs"), "the fresh jobs")


async def test_rejecting_the_waiting_deploy_with_enter_fails_it(api: str) -> None:
    app = Host(_pane(api))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await highlight(pilot, app, WAITING_DEPLOY)
        await pilot.press("x")
        dialog = await confirm_dialog(pilot, app)
        assert "Reject the deployment of Deploy staging #59 to staging?" in dialog.text
        assert "This cannot be undone: the waiting jobs fail" in dialog.text
        await pilot.press("enter")
        await until(pilot, lambda: _status(table, WAITING_DEPLOY) == "failure", "the rejected deploy to fail")
        await until(pilot, lambda: notes(app), "the outcome")
        assert notes(app) == ["Rejected Deploy staging #59 for staging; its waiting jobs fail."]


async def test_rerunning_the_failed_deploy_starts_a_new_attempt(api: str) -> None:
    app = Host(_pane(api))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await highlight(pilot, app, FAILED_DEPLOY)
        await pilot.press("f")
        await until(pilot, lambda: "attempt 2" in _text(app, "#pipelines-jobs"), "the second attempt")
        assert not isinstance(app.screen, ConfirmAction)
        assert _text(app, "#pipelines-jobs").startswith("Deploy staging #58 · attempt 2 · main")
        await until(pilot, lambda: _status(table, FAILED_DEPLOY) == "waiting for approval: staging", "the new attempt")
        assert notes(app) == ["Re-running the failed jobs of Deploy staging #58 as attempt 2."]


async def test_cancelling_the_confirmation_sends_nothing(api: str) -> None:
    app = Host(_pane(api))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await highlight(pilot, app, WAITING_DEPLOY)
        for key, cancel in (("a", "n"), ("x", "escape")):
            await pilot.press(key)
            await confirm_dialog(pilot, app)
            await pilot.press(cancel)
            await until(pilot, lambda: not isinstance(app.screen, ConfirmAction), f"{cancel} to close the dialog")
        pane = app.query_one(PipelinesPane)
        assert pane.screen.focused is table and pane._acting is None
        assert not [w for w in app.workers if w.group == "pipelines-action" and not w.is_finished]
        async with GitHubClient(_settings(api)) as gh:
            pending = await gh.pending_deployments(int(WAITING_DEPLOY))
        assert [p.environment for p in pending] == ["staging"]  # GitHub still waits for a review
        assert _status(table, WAITING_DEPLOY) == "waiting for approval: staging"
        assert notes(app) == []


async def test_keys_on_runs_that_cannot_take_them_say_why_in_one_sentence(api: str) -> None:
    app = Host(_pane(api))
    async with app.run_test(size=(120, 40)) as pilot:
        said: list[str] = []
        for run_id, key, sentence in (
            (
                FAILED_DEPLOY,
                "a",
                "Deploy staging #58 is not waiting for approval (completed: failure); "
                "only a waiting run can be approved.",
            ),
            (
                GREEN_CI,
                "x",
                "CI #212 is not waiting for approval (completed: success); only a waiting run can be rejected.",
            ),
            (GREEN_CI, "f", "CI #212 ended in success; it has no failed jobs to re-run."),
            (
                WAITING_DEPLOY,
                "f",
                "Deploy staging #59 is still waiting; only a finished run with failed jobs can be re-run.",
            ),
        ):
            await highlight(pilot, app, run_id)
            await pilot.press(key)
            said.append(sentence)
            await until(pilot, lambda: len(notes(app)) == len(said), f"the refusal of {key}")
            assert notes(app) == said
            assert not isinstance(app.screen, ConfirmAction)


async def test_a_read_only_console_refuses_every_write(api: str) -> None:
    app = Host(_pane(api, read_only=True))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await highlight(pilot, app, WAITING_DEPLOY)
        await pilot.press("a")
        await until(pilot, lambda: notes(app), "the refusal")
        assert notes(app) == [
            "pitstop is read-only, so it will not approve Deploy staging #59; start it without --read-only."
        ]
        assert not isinstance(app.screen, ConfirmAction)
        assert _status(table, WAITING_DEPLOY) == "waiting for approval: staging"


@pytest_asyncio.fixture
async def strict_api() -> AsyncIterator[str]:
    """The demo's API as GitHub answers someone who is no reviewer of staging and lacks actions:write."""

    @web.middleware
    async def not_a_reviewer(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path.endswith("/rerun-failed-jobs"):
            doc = {"message": "Resource not accessible by personal access token"}
            return web.json_response(doc, status=403)
        response = await handler(request)
        if request.path.endswith("/pending_deployments") and isinstance(response, web.Response) and response.body:
            doc = orjson.loads(response.body)  # type: ignore[arg-type]
            for pending in doc:
                pending["current_user_can_approve"] = False
            return web.json_response(doc, status=response.status)
        return response

    app = make_github_app(sandbox.scenario.load("demo").github, Clock(speed=100), TOKEN)
    app.middlewares.append(not_a_reviewer)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/")


async def test_an_engineer_who_may_not_review_or_rerun_is_told_why(strict_api: str) -> None:
    app = Host(_pane(strict_api))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await highlight(pilot, app, WAITING_DEPLOY)
        await pilot.press("a")
        await until(pilot, lambda: notes(app), "the refusal")
        assert notes(app) == [
            "You cannot approve Deploy staging #59: GitHub says you may not review staging; "
            "ask one of its reviewers (hal-okafor, priya-raman)."
        ]
        assert not isinstance(app.screen, ConfirmAction)
        assert _status(table, WAITING_DEPLOY) == "waiting for approval: staging"

        await highlight(pilot, app, FAILED_DEPLOY)
        await pilot.press("f")
        await until(pilot, lambda: len(notes(app)) == 2, "GitHub's refusal")
        assert notes(app)[1] == (
            "GitHub would not re-run the failed jobs of run 11900000358 of coditect/license-platform "
            "(403 Resource not accessible by personal access token); a run can be re-run once it has completed "
            "and within 30 days, with a token that has actions:write"
        )
        assert TOKEN not in "".join(notes(app))
        assert _status(table, FAILED_DEPLOY) == "failure"


async def test_the_key_bar_and_help_list_approve_reject_and_rerun(api: str) -> None:
    app = Console(_pane(api))
    async with app.run_test(size=(120, 40)) as pilot:
        await highlight(pilot, app, WAITING_DEPLOY)
        await pilot.pause()
        bar = app.query_one(KeyBar).plain
        assert " a Approve " in bar and " x Reject " in bar and " f Re-run failed jobs " in bar
        assert " r Refresh pipelines " in bar
        help_screen = HelpScreen()
        app.push_screen(help_screen)
        await until(pilot, lambda: help_screen.rows, "the help")
        rows = set(help_screen.rows)
        assert {
            ("Focused: PipelinesPane", "r", "Refresh pipelines"),
            ("Focused: PipelinesPane", "a", "Approve"),
            ("Focused: PipelinesPane", "x", "Reject"),
            ("Focused: PipelinesPane", "f", "Re-run failed jobs"),
        } <= rows
