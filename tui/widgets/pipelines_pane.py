"""The pipelines pane: the repository's GitHub Actions runs, and the jobs, steps and reviews of the highlighted one.

One worker owned by the pane asks GitHub every `refresh_interval` seconds (and at once
when another run is highlighted or `r` is pressed) and posts what it found; the handlers
here are the only code that changes widgets. A failed request is one red line above the
last good table, retried on the next tick.

On the highlighted run, `a` approves and `x` rejects the deployments it waits for (after a
y/n confirmation: a review cannot be taken back) and `f` re-runs its failed jobs. Each is
one short-lived worker; its outcome is a notification and the run is asked for again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from diagnostics.github import (
    GitHubClient,
    GitHubError,
    GitHubSettings,
    Job,
    PendingDeployment,
    ReviewState,
    Run,
    SetupNeeded,
)
from diagnostics.podstatus import human_duration
from tui.screens.confirm_action import ConfirmAction

COLUMNS = ("WORKFLOW", "#", "BRANCH", "EVENT", "STATUS", "DURATION", "AGE")
_STYLE = {"success": "green", "failure": "red", "timed_out": "red", "cancelled": "dim", "skipped": "dim"}
_MARK = {"success": "✓", "failure": "✗", "timed_out": "✗", "cancelled": "✗", "skipped": "-"}
_LOG_LINES = 6
_BRANCH_WIDTH = 26
_RERUNNABLE = frozenset({"failure", "timed_out", "cancelled", "startup_failure"})
_ACTIONS = "pipelines-action"  # the worker group of approve, reject and re-run


@dataclass(frozen=True, slots=True)
class RunDetail:
    """What the pane shows under the table for one run; `log` is the end of its first failed job's log."""

    run: Run
    jobs: tuple[Job, ...]
    pending: tuple[PendingDeployment, ...]
    failed_job: str | None = None
    log: tuple[str, ...] = ()


def run_name(run: Run) -> str:
    """`Deploy staging #59`: how GitHub's pages name a run."""
    return f"{run.workflow_name} #{run.run_number}"


def span(seconds: float | None) -> str:
    """Durations and ages the way kubectl prints AGE (`42s`, `5m1s`, `27h`, `2d3h`); empty when unknown."""
    return "" if seconds is None else human_duration(seconds)


def status_text(status: str, conclusion: str | None, waiting_for: tuple[str, ...] = ()) -> Text:
    if status == "completed":
        return Text(conclusion or "completed", style=_STYLE.get(conclusion or "", ""))
    if status == "waiting":
        what = f"waiting for approval: {', '.join(waiting_for)}" if waiting_for else "waiting"
        return Text(what, style="yellow")
    if status == "in_progress":
        return Text("in progress", style="cyan")
    return Text(status.replace("_", " "), style="dim")


def marker(status: str, conclusion: str | None) -> Text:
    if status == "completed":
        return Text(_MARK.get(conclusion or "", "✓"), style=_STYLE.get(conclusion or "", "green"))
    if status in ("in_progress", "waiting"):
        return Text("●", style="yellow")
    return Text("○", style="dim")


def failure_excerpt(lines: list[str], keep: int = _LOG_LINES) -> tuple[str, ...]:
    """The output of the step that ended in the first `##[error]` (or of the last step), without its echoed command."""
    end = next((i + 1 for i, line in enumerate(lines) if line.startswith("##[error]")), len(lines))
    useful: list[str] = []
    echoed = False
    for line in lines[:end]:
        if line.startswith("##[group]"):  # a step begins: its command is echoed up to ##[endgroup]
            useful, echoed = [], True
        elif line.startswith("##[endgroup]"):
            echoed = False
        elif not echoed:
            useful.append(line)
    return tuple(useful[-keep:])


def render_detail(detail: RunDetail) -> Text:
    """The run's header, its reviews, its jobs; when something broke, only the broken jobs' steps and the log."""
    run = detail.run
    out = Text()
    out.append(run_name(run), style="bold")
    if run.attempt > 1:
        out.append(f" · attempt {run.attempt}", style="bold")
    out.append(f" · {run.branch} · {run.head_sha[:7]} · {run.actor}", style="dim")
    if run.title:
        out.append(f" — {run.title}")
    for p in detail.pending:
        who = f" (reviewers: {', '.join(p.reviewers)})" if p.reviewers else ""
        out.append(f"\n● waiting for approval: {p.environment}{who}", style="yellow")
    all_green = all(j.conclusion in ("success", "skipped") for j in detail.jobs)
    for job in detail.jobs:
        took = span((job.completed_at - job.started_at).total_seconds()) if job.completed_at and job.started_at else ""
        out.append("\n").append_text(marker(job.status, job.conclusion)).append(f" {job.name}", style="bold")
        out.append(f"  {took or status_text(job.status, job.conclusion).plain}", style="dim")
        if job.conclusion == "success" and not all_green:
            out.append(f"  ({len(job.steps)} steps)", style="dim")  # what passed hides what broke
            continue
        for step in job.steps:
            out.append("\n    ").append_text(marker(step.status, step.conclusion)).append(f" {step.name}")
        if detail.log and job.name == detail.failed_job:
            out.append("\n    log:", style="bold")
            for line in detail.log:
                bad = line.startswith(("##[error]", "CommandError", "error", "Error"))
                out.append(f"\n      {line}", style="red" if bad else "dim")
    if run.html_url:
        out.append(f"\n{run.html_url}", style="dim underline")
    return out


class PipelinesPane(Vertical):
    """GitHub Actions runs of the repository, or how to set the pane up when `settings` is `SetupNeeded`."""

    DEFAULT_CSS = """
    PipelinesPane { height: 1fr; }
    PipelinesPane #pipelines-status { height: 1; color: $text-muted; }
    PipelinesPane #pipelines-status.-error { color: $error; }
    PipelinesPane #pipelines-setup { padding: 1 2; color: $warning; }
    PipelinesPane #pipelines-runs { height: auto; max-height: 50%; }
    PipelinesPane #pipelines-detail { height: 1fr; border-top: solid $panel-lighten-2; }
    """
    BINDINGS = [
        Binding("r", "refresh_pipelines", "Refresh pipelines"),
        Binding("a", "review('approved')", "Approve"),
        Binding("x", "review('rejected')", "Reject"),
        Binding("f", "rerun_failed", "Re-run failed jobs"),
    ]

    class RunsLoaded(Message):
        """The worker listed the runs; `waiting_for` names the environments each waiting run needs approved."""

        def __init__(self, runs: tuple[Run, ...], waiting_for: dict[int, tuple[str, ...]]) -> None:
            super().__init__()
            self.runs, self.waiting_for = runs, waiting_for

    class RunDetailLoaded(Message):
        def __init__(self, detail: RunDetail) -> None:
            super().__init__()
            self.detail = detail

    class RefreshFailed(Message):
        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

    class ReviewAsked(Message):
        """The deployments `run` waits for, asked afresh before the operator confirms a review."""

        def __init__(self, run: Run, state: ReviewState, pending: tuple[PendingDeployment, ...]) -> None:
            super().__init__()
            self.run, self.state, self.pending = run, state, pending

    class ActionFinished(Message):
        """An approve, reject or re-run ended; `text` is the outcome in one sentence."""

        def __init__(self, run: Run, text: str, ok: bool) -> None:
            super().__init__()
            self.run, self.text, self.ok = run, text, ok

    def __init__(
        self,
        settings: GitHubSettings | SetupNeeded,
        refresh_interval: float = 10.0,
        *,
        per_page: int = 20,
        read_only: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.settings = settings
        self.refresh_interval = refresh_interval
        self.per_page = per_page
        self.read_only = read_only
        self.selected: int | None = None
        self._runs: dict[int, Run] = {}
        self._acting: str | None = None  # what the action in flight does, e.g. "approving CI #3"
        self._details: dict[int, RunDetail] = {}
        self._requests: asyncio.Queue[int | None] = asyncio.Queue()
        self._poller: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        if isinstance(self.settings, SetupNeeded):
            yield Static(self.settings.message, id="pipelines-setup")
            return
        yield Static(f"{self.settings.full_name} · loading runs…", id="pipelines-status")
        table: DataTable[Text | str] = DataTable(id="pipelines-runs", cursor_type="row", zebra_stripes=True)
        for label in COLUMNS:
            table.add_column(label, key=label, width=_BRANCH_WIDTH if label == "BRANCH" else None)
        yield table
        with VerticalScroll(id="pipelines-detail"):
            yield Static("", id="pipelines-jobs")

    def on_mount(self) -> None:
        self.border_title = "Pipelines"
        self._start()

    def _start(self) -> None:
        if isinstance(self.settings, GitHubSettings):
            self._poller = self.run_worker(self._poll(self.settings), name="pipelines", exit_on_error=False)

    def on_unmount(self) -> None:
        if self._poller is not None:
            self._poller.cancel()

    def action_refresh_pipelines(self) -> None:
        if self._poller is None:  # stopped by an unexpected error: start over
            self._start()
        else:
            self._requests.put_nowait(None)

    # --- the worker: asks GitHub, posts what it found ---

    async def _poll(self, settings: GitHubSettings) -> None:
        runs: dict[int, Run] = {}
        cache: dict[int, RunDetail] = {}
        listing, wanted = True, None
        async with GitHubClient(settings) as gh:
            while True:
                try:
                    if listing:
                        found = await gh.runs(self.per_page)
                        runs = {r.id: r for r in found}
                        cache = {i: d for i, d in cache.items() if i in runs}  # runs that rolled off are forgotten
                        waiting = [r.id for r in found if r.status == "waiting"]
                        envs = await asyncio.gather(*(gh.pending_deployments(i) for i in waiting))
                        self.post_message(
                            self.RunsLoaded(
                                tuple(found),
                                {i: tuple(p.environment for p in e) for i, e in zip(waiting, envs, strict=True)},
                            )
                        )
                    if wanted is not None and wanted in runs:
                        self.post_message(self.RunDetailLoaded(await _detail(gh, runs[wanted], cache)))
                except GitHubError as e:
                    self.post_message(self.RefreshFailed(e.message))
                listing, wanted = await self._next_request(wanted)

    async def _next_request(self, wanted: int | None) -> tuple[bool, int | None]:
        """(list runs again?, run to show): a tick lists everything; a highlight asks for one run's detail."""
        try:
            item = await asyncio.wait_for(self._requests.get(), self.refresh_interval)
        except TimeoutError:
            return True, wanted
        listing = item is None
        while not self._requests.empty():  # only the latest highlight matters
            queued = self._requests.get_nowait()
            listing, item = listing or queued is None, item if queued is None else queued
        return listing, wanted if item is None else item

    # --- the handlers: the only code that changes widgets ---

    def on_pipelines_pane_runs_loaded(self, event: PipelinesPane.RunsLoaded) -> None:
        table = self.query_one("#pipelines-runs", DataTable)
        now = datetime.now(UTC)
        keys = [str(r.id) for r in event.runs]
        rows = {str(r.id): _cells(r, event.waiting_for.get(r.id, ()), now) for r in event.runs}
        self._runs = {r.id: r for r in event.runs}
        self._details = {r.id: self._details[r.id] for r in event.runs if r.id in self._details}
        if [k.value for k in table.rows] == keys:
            for key, cells in rows.items():
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, column, value)
        else:
            with self.prevent(DataTable.RowHighlighted):
                table.clear()
                for key, cells in rows.items():
                    table.add_row(*cells, key=key)
                if self.selected is not None and str(self.selected) in rows:
                    table.move_cursor(row=keys.index(str(self.selected)))
            if keys:
                self._select(int(keys[table.cursor_row]))
        status = self.query_one("#pipelines-status", Static)
        status.remove_class("-error")
        status.update(f"{self._full_name} · {len(keys)} runs · updated {now.astimezone():%H:%M:%S}")

    def on_pipelines_pane_run_detail_loaded(self, event: PipelinesPane.RunDetailLoaded) -> None:
        self._details[event.detail.run.id] = event.detail
        if event.detail.run.id == self.selected:
            self.query_one("#pipelines-jobs", Static).update(render_detail(event.detail))

    def on_pipelines_pane_refresh_failed(self, event: PipelinesPane.RefreshFailed) -> None:
        self._show_error(f"✗ {event.message} — retrying every {self.refresh_interval:g}s")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._poller and event.state == WorkerState.ERROR:
            self._show_error(f"✗ pipelines stopped: {event.worker.error}; press r to start again")
            self._poller = None
        elif event.worker.group == _ACTIONS and event.state == WorkerState.ERROR:
            doing, self._acting = self._acting or "acting on the run", None
            text = f"{doing[:1].upper()}{doing[1:]} failed: {event.worker.error}"
            self.notify(text, title="Pipelines", severity="error", timeout=10)
            self._requests.put_nowait(None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._select(int(event.row_key.value))

    def on_pipelines_pane_review_asked(self, event: PipelinesPane.ReviewAsked) -> None:
        run, verb = event.run, "approve" if event.state == "approved" else "reject"
        if not event.pending:
            self._acting = None
            self._refuse(f"{run_name(run)} is no longer waiting for a review; nothing to {verb}.")
            self._requests.put_nowait(None)
            return
        mine = tuple(p for p in event.pending if p.can_approve)
        if not mine:
            self._acting = None
            envs = ", ".join(p.environment for p in event.pending)
            who = sorted({r for p in event.pending for r in p.reviewers})
            ask = f"ask one of its reviewers ({', '.join(who)})" if who else "ask one of its reviewers"
            self._refuse(f"You cannot {verb} {run_name(run)}: GitHub says you may not review {envs}; {ask}.")
            return
        assert isinstance(self.settings, GitHubSettings)
        settings, envs = self.settings, ", ".join(p.environment for p in mine)
        if event.state == "approved":
            question = f"Approve the deployment of {run_name(run)} to {envs}?"
            warning = f"This cannot be undone: once approved, the jobs waiting for {envs} start at once."
        else:
            question = f"Reject the deployment of {run_name(run)} to {envs}?"
            warning = (
                "This cannot be undone: the waiting jobs fail, and so does the run; a new run is needed to deploy."
            )
        facts = [
            ("run", f"#{run.run_number} (id {run.id}) · {run.branch} · {run.head_sha[:7]} · {run.actor}"),
            ("workflow", run.workflow_name),
            ("environment" if len(mine) == 1 else "environments", envs),
        ]
        if run.title:
            facts.insert(1, ("title", run.title))

        def answered(yes: bool | None) -> None:
            if yes:
                self._send_review(settings, run, event.state, mine)
            else:
                self._acting = None

        self.app.push_screen(ConfirmAction(f"{verb.capitalize()} deployment", question, facts, warning), answered)

    def on_pipelines_pane_action_finished(self, event: PipelinesPane.ActionFinished) -> None:
        self._acting = None
        self._details.pop(event.run.id, None)  # its jobs changed: show them as GitHub has them now
        self.notify(event.text, title=run_name(event.run), severity="information" if event.ok else "error", timeout=8)
        self._requests.put_nowait(None)

    # --- actions on the highlighted run: refusals here, network work in workers ---

    def action_review(self, state: ReviewState) -> None:
        verb = "approve" if state == "approved" else "reject"
        run = self._run_to_act_on(verb)
        if run is None or not isinstance(self.settings, GitHubSettings):
            return
        if run.status != "waiting":
            self._refuse(
                f"{run_name(run)} is not waiting for approval ({_state(run)}); only a waiting run can be {state}."
            )
            return
        self._acting = f"{'approving' if state == 'approved' else 'rejecting'} {run_name(run)}"
        self._ask_pending(self.settings, run, state)

    def action_rerun_failed(self) -> None:
        run = self._run_to_act_on("re-run")
        if run is None or not isinstance(self.settings, GitHubSettings):
            return
        if run.status != "completed":
            self._refuse(f"{run_name(run)} is still {_state(run)}; only a finished run with failed jobs can be re-run.")
            return
        if run.conclusion not in _RERUNNABLE:
            self._refuse(f"{run_name(run)} ended in {run.conclusion or 'success'}; it has no failed jobs to re-run.")
            return
        self._acting = f"re-running the failed jobs of {run_name(run)}"
        self._rerun(self.settings, run)

    def _run_to_act_on(self, verb: str) -> Run | None:
        """The highlighted run, or None after saying in one sentence why nothing can be done now."""
        if isinstance(self.settings, SetupNeeded):
            self._refuse(self.settings.message)
            return None
        run = self._runs.get(self.selected) if self.selected is not None else None
        if run is None:
            self._refuse(f"Highlight a run first: nothing to {verb} yet.")
            return None
        if self.read_only or getattr(self.app, "read_only", False):
            self._refuse(f"pitstop is read-only, so it will not {verb} {run_name(run)}; start it without --read-only.")
            return None
        if self._acting is not None:
            self._refuse(f"Still {self._acting}; wait for it to finish.")
            return None
        return run

    def _refuse(self, sentence: str) -> None:
        self.notify(sentence, title="Pipelines", severity="warning", timeout=6)

    @work(group=_ACTIONS, exit_on_error=False)
    async def _ask_pending(self, settings: GitHubSettings, run: Run, state: ReviewState) -> None:
        try:
            async with GitHubClient(settings) as gh:
                pending = tuple(await gh.pending_deployments(run.id))
        except GitHubError as e:
            self.post_message(self.ActionFinished(run, e.message, False))
            return
        self.post_message(self.ReviewAsked(run, state, pending))

    @work(group=_ACTIONS, exit_on_error=False)
    async def _send_review(
        self, settings: GitHubSettings, run: Run, state: ReviewState, pending: tuple[PendingDeployment, ...]
    ) -> None:
        ids = [p.environment_id for p in pending]
        comment = f"{'Approved' if state == 'approved' else 'Rejected'} from pitstop"
        try:
            async with GitHubClient(settings) as gh:
                reviewed = await gh.review_pending_deployments(run.id, ids, state, comment)
        except GitHubError as e:
            self.post_message(self.ActionFinished(run, e.message, False))
            return
        envs = ", ".join(e for e in reviewed if e) or ", ".join(p.environment for p in pending)
        if state == "approved":
            text = f"Approved {run_name(run)} for {envs}; its deployment proceeds."
        else:
            text = f"Rejected {run_name(run)} for {envs}; its waiting jobs fail."
        self.post_message(self.ActionFinished(run, text, True))

    @work(group=_ACTIONS, exit_on_error=False)
    async def _rerun(self, settings: GitHubSettings, run: Run) -> None:
        try:
            async with GitHubClient(settings) as gh:
                await gh.rerun_failed_jobs(run.id)
        except GitHubError as e:
            self.post_message(self.ActionFinished(run, e.message, False))
            return
        text = f"Re-running the failed jobs of {run_name(run)} as attempt {run.attempt + 1}."
        self.post_message(self.ActionFinished(run, text, True))

    def _select(self, run_id: int) -> None:
        if run_id == self.selected:
            return
        self.selected = run_id
        cached = self._details.get(run_id)
        self.query_one("#pipelines-jobs", Static).update(render_detail(cached) if cached else "loading jobs…")
        self._requests.put_nowait(run_id)

    def _show_error(self, line: str) -> None:
        status = self.query_one("#pipelines-status", Static)
        status.add_class("-error")
        status.update(Text(line, no_wrap=True, overflow="ellipsis"))

    @property
    def _full_name(self) -> str:
        return self.settings.full_name if isinstance(self.settings, GitHubSettings) else ""


def _state(run: Run) -> str:
    """`in progress`, `queued`, `completed: failure`: what a refusal says the run is doing."""
    if run.status == "completed":
        return f"completed: {run.conclusion or 'success'}"
    return run.status.replace("_", " ")


def _cells(run: Run, waiting_for: tuple[str, ...], now: datetime) -> tuple[Text | str, ...]:
    return (
        run.workflow_name,
        str(run.run_number),
        Text(run.branch, no_wrap=True, overflow="ellipsis"),
        run.event,
        status_text(run.status, run.conclusion, waiting_for),
        span(run.duration_s),
        span((now - run.created_at).total_seconds()),
    )


async def _detail(gh: GitHubClient, run: Run, cache: dict[int, RunDetail]) -> RunDetail:
    """Jobs, reviews and the failed job's log end; a completed run's are asked once (until it is re-run)."""
    cached = cache.get(run.id)
    if cached is not None and run.status == "completed" and cached.run.updated_at == run.updated_at:
        return cached
    jobs = tuple(await gh.jobs(run.id))
    pending = tuple(await gh.pending_deployments(run.id)) if run.status == "waiting" else ()
    failed = next((j for j in jobs if j.conclusion in ("failure", "timed_out")), None)
    log: tuple[str, ...] = ()
    if failed is not None:
        try:
            log = failure_excerpt(await gh.job_log_tail(failed.id))
        except GitHubError as e:
            log = (f"(no log: {e.message})",)
    detail = RunDetail(run, jobs, pending, failed.name if failed else None, log)
    cache[run.id] = detail
    return detail
