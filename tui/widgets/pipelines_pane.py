"""The pipelines pane: the repository's GitHub Actions runs, and the jobs, steps and reviews of the highlighted one.

One worker owned by the pane asks GitHub every `refresh_interval` seconds (and at once
when another run is highlighted or `r` is pressed) and posts what it found; the handlers
here are the only code that changes widgets. A failed request is one red line above the
last good table, retried on the next tick.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from diagnostics.github import GitHubClient, GitHubError, GitHubSettings, Job, PendingDeployment, Run, SetupNeeded
from diagnostics.podstatus import human_duration

COLUMNS = ("WORKFLOW", "#", "BRANCH", "EVENT", "STATUS", "DURATION", "AGE")
_STYLE = {"success": "green", "failure": "red", "timed_out": "red", "cancelled": "dim", "skipped": "dim"}
_MARK = {"success": "✓", "failure": "✗", "timed_out": "✗", "cancelled": "✗", "skipped": "-"}
_LOG_LINES = 6
_BRANCH_WIDTH = 26


@dataclass(frozen=True, slots=True)
class RunDetail:
    """What the pane shows under the table for one run; `log` is the end of its first failed job's log."""

    run: Run
    jobs: tuple[Job, ...]
    pending: tuple[PendingDeployment, ...]
    failed_job: str | None = None
    log: tuple[str, ...] = ()


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
    out.append(f"{run.workflow_name} #{run.run_number}", style="bold")
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
    BINDINGS = [Binding("r", "refresh_pipelines", "Refresh pipelines")]

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

    def __init__(
        self,
        settings: GitHubSettings | SetupNeeded,
        refresh_interval: float = 10.0,
        *,
        per_page: int = 20,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.settings = settings
        self.refresh_interval = refresh_interval
        self.per_page = per_page
        self.selected: int | None = None
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

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._select(int(event.row_key.value))

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
