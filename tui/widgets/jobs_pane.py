"""JobsPane: Jobs (status, completions, duration, failed pods) above CronJobs (schedule, last run and how it ended).

The cells follow `kubectl get jobs,cronjobs` (Kubernetes 1.32); LAST STATUS is the
status of the CronJob's newest Job, which kubectl does not show and on-call needs most.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from diagnostics.podstatus import human_duration, parse_time, severity
from diagnostics.snapshot import Obj, Snapshot
from tui.widgets.cluster_pane import SEVERITY_STYLE, listing_problem
from tui.widgets.resource_table import Column, ResourceTable, Row

JOB_COLUMNS = (
    Column("namespace", "NAMESPACE"),
    Column("name", "NAME"),
    Column("status", "STATUS"),
    Column("completions", "COMPLETIONS", 0, "right"),
    Column("duration", "DURATION", 0, "right"),
    Column("failed", "FAILED PODS", 0, "right"),
    Column("age", "AGE", 6, "right"),
)
CRONJOB_COLUMNS = (
    Column("namespace", "NAMESPACE"),
    Column("name", "NAME"),
    Column("schedule", "SCHEDULE"),
    Column("suspend", "SUSPEND", 0),
    Column("active", "ACTIVE", 0, "right"),
    Column("last", "LAST SCHEDULE", 0, "right"),
    Column("status", "LAST STATUS"),
)


def _true(conditions: Iterable[Mapping[str, Any]], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conditions)


def job_status(job: Obj) -> str:
    """kubectl's Job STATUS: Complete, Failed, Terminating, Suspended, FailureTarget or Running."""
    conditions = (job.get("status") or {}).get("conditions") or ()
    if _true(conditions, "Complete"):
        return "Complete"
    if _true(conditions, "Failed"):
        return "Failed"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if _true(conditions, "Suspended"):
        return "Suspended"
    if _true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def completions(job: Obj) -> str:
    """`1/1`, `3/5`, or `0/1 of 4` for a work-queue Job with parallelism."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = status.get("succeeded") or 0
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    if (spec.get("parallelism") or 0) > 1:
        return f"{succeeded}/1 of {spec['parallelism']}"
    return f"{succeeded}/1"


def duration(job: Obj, now: datetime) -> tuple[str, float]:
    """From start to completion (or to now while it runs); "" before it starts."""
    status = job.get("status") or {}
    started = parse_time(status.get("startTime"))
    if started is None:
        return "", -1.0
    seconds = ((parse_time(status.get("completionTime")) or now) - started).total_seconds()
    return human_duration(seconds), seconds


def _since(stamp: Any, now: datetime) -> tuple[str, float]:
    at = parse_time(stamp) if isinstance(stamp, str) else None
    return ("<none>", float("inf")) if at is None else (human_duration((now - at).total_seconds()), -at.timestamp())


def _coloured(status: str) -> Text:
    return Text(status, style=SEVERITY_STYLE[severity(status)])


def _cronjob_of(job: Obj) -> str | None:
    for ref in (job.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("kind") == "CronJob" and ref.get("controller", True):
            return str(ref.get("uid") or "")
    return None


class JobsPane(Vertical):
    """The Jobs table above the CronJobs table; `show(snapshot, now)` refreshes both."""

    DEFAULT_CSS = """
    JobsPane { height: 1fr; }
    JobsPane > #jobs { height: 1fr; }
    JobsPane > #cronjobs { height: auto; max-height: 40%; }
    """

    class JobSelected(Message):
        """The operator opened a Job or a CronJob (`kind` says which)."""

        def __init__(self, kind: str, namespace: str, name: str) -> None:
            super().__init__()
            self.kind = kind
            self.namespace = namespace  # type: ignore[misc]  # Message.namespace only matters at class creation
            self.name = name

    def compose(self) -> ComposeResult:
        jobs = ResourceTable(JOB_COLUMNS, sort="namespace", empty_text="No jobs", id="jobs")
        jobs.border_title = "jobs"
        cronjobs = ResourceTable(CRONJOB_COLUMNS, sort="namespace", empty_text="No cronjobs", id="cronjobs")
        cronjobs.border_title = "cronjobs"
        yield jobs
        yield cronjobs

    @property
    def jobs(self) -> ResourceTable:
        return self.query_one("#jobs", ResourceTable)

    @property
    def cronjobs(self) -> ResourceTable:
        return self.query_one("#cronjobs", ResourceTable)

    def focus_jobs(self) -> None:
        self.jobs.focus()

    def set_filter(self, text: str) -> None:
        """Filter both tables: a CronJob's Jobs are named after it, so its name keeps both."""
        self.jobs.set_filter(text)
        self.cronjobs.set_filter(text)

    def show(self, snapshot: Snapshot, now: datetime) -> None:
        newest: dict[str, Obj] = {}
        problem = listing_problem(snapshot, "Job", "jobs")
        if problem is not None:
            self.jobs.set_notice(problem)
        else:
            rows = []
            for job in snapshot.list("Job"):
                namespace, name = job["metadata"].get("namespace", ""), job["metadata"].get("name", "")
                status = job_status(job)
                took, seconds = duration(job, now)
                failed = int((job.get("status") or {}).get("failed") or 0)
                age, born = _since(job["metadata"].get("creationTimestamp"), now)
                cells = (namespace, name, _coloured(status), completions(job), took)
                failed_cell = Text(str(failed), style="red") if failed else "0"
                keys = ((namespace, name), (name, namespace), status, completions(job), seconds, failed, born)
                rows.append(Row(f"{namespace}/{name}", (*cells, failed_cell, age), keys))
                owner = _cronjob_of(job)
                created = job["metadata"].get("creationTimestamp") or ""
                if owner and created >= (newest.get(owner, {}).get("metadata", {}).get("creationTimestamp") or ""):
                    newest[owner] = job
            self.jobs.set_rows(rows)
        self._show_cronjobs(snapshot, now, newest, known=problem is None)

    def _show_cronjobs(self, snapshot: Snapshot, now: datetime, newest: dict[str, Obj], known: bool) -> None:
        problem = listing_problem(snapshot, "CronJob", "cronjobs")
        if problem is not None:
            self.cronjobs.set_notice(problem)
            return
        rows = []
        for cj in snapshot.list("CronJob"):
            meta, spec, status = cj["metadata"], cj.get("spec") or {}, cj.get("status") or {}
            namespace, name = meta.get("namespace", ""), meta.get("name", "")
            suspend = spec.get("suspend")
            suspend_cell = "<unset>" if suspend is None else str(bool(suspend))
            last, when = _since(status.get("lastScheduleTime"), now)
            job = newest.get(str(meta.get("uid") or ""))
            last_status = "?" if not known else "<none>" if job is None else job_status(job)
            status_cell = _coloured(last_status) if job is not None else last_status
            active = len(status.get("active") or ())
            cells = (namespace, name, str(spec.get("schedule") or ""), suspend_cell, str(active), last, status_cell)
            keys = ((namespace, name), (name, namespace), cells[2], suspend_cell, active, when, last_status)
            rows.append(Row(f"{namespace}/{name}", cells, keys))
        self.cronjobs.set_rows(rows)

    @on(ResourceTable.RowSelected, "#jobs")
    def _job_selected(self, event: ResourceTable.RowSelected) -> None:
        event.stop()
        namespace, _, name = event.key.partition("/")
        self.post_message(self.JobSelected("Job", namespace, name))

    @on(ResourceTable.RowSelected, "#cronjobs")
    def _cronjob_selected(self, event: ResourceTable.RowSelected) -> None:
        event.stop()
        namespace, _, name = event.key.partition("/")
        self.post_message(self.JobSelected("CronJob", namespace, name))
