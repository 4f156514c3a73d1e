"""WorkloadsPane: Deployments, StatefulSets and DaemonSets as `kubectl get deploy,sts,ds` shows them; enter opens one.

READY is ready/desired; the row is green when every replica is ready and up to date,
yellow while a rollout progresses, red when none is available. Rows are converted once
per resourceVersion, so a repaint of thousands of workloads only moves what changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message

from diagnostics.podstatus import human_duration, parse_time
from diagnostics.snapshot import Obj, Snapshot
from tui.widgets.cluster_pane import listing_problem
from tui.widgets.resource_table import AnyCell, Column, ResourceTable, Row

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
COLUMNS = (
    Column("kind", "KIND", 11),
    Column("namespace", "NAMESPACE"),
    Column("name", "NAME"),
    Column("ready", "READY", 0, "right"),
    Column("updated", "UP-TO-DATE", 0, "right"),
    Column("available", "AVAILABLE", 0, "right"),
    Column("age", "AGE", 6, "right"),
    Column("images", "IMAGES"),
)


def counts(obj: Obj) -> tuple[int, int, int, int]:
    """(desired, ready, up to date, available) as kubectl reads them for the workload's kind."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if obj.get("kind") == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        return (
            desired,
            int(status.get("numberReady") or 0),
            int(status.get("updatedNumberScheduled") or 0),
            int(status.get("numberAvailable") or 0),
        )
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    return (
        desired,
        int(status.get("readyReplicas") or 0),
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
    )


def health(obj: Obj) -> str:
    """ok (all ready and up to date), warn (rolling out, partly ready), error (none available while some wanted)."""
    desired, ready, updated, available = counts(obj)
    if desired and not available:
        return "error"
    if ready < desired or updated < desired:
        return "warn"
    return "ok"


def images(obj: Obj) -> str:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return ",".join(str(c.get("image", "")) for c in spec.get("containers") or ())


STYLE = {"ok": "green", "warn": "yellow", "error": "red"}
RANK = {"error": 0, "warn": 1, "ok": 2}


def _row(obj: Obj) -> Row:
    meta = obj.get("metadata") or {}
    kind, namespace, name = str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or "")
    desired, ready, updated, available = counts(obj)
    state = health(obj)
    created_at = parse_time(meta.get("creationTimestamp"))
    created = created_at.timestamp() if created_at else None
    age: AnyCell = "<unknown>" if created is None else (lambda now: human_duration(now - created))
    cells: tuple[AnyCell, ...] = (
        kind,
        namespace,
        Text(name, style=STYLE[state]),
        Text(f"{ready}/{desired}", style=STYLE[state]),
        str(updated),
        str(available),
        age,
        images(obj),
    )
    keys = (kind, (namespace, name), (name, namespace), (RANK[state], ready - desired), updated, available)
    return Row(f"{kind}/{namespace}/{name}", cells, (*keys, -(created or 0.0), images(obj)))


class WorkloadsPane(Vertical):
    """One table of every Deployment, StatefulSet and DaemonSet; `show(snapshot, now)` brings it up to date."""

    DEFAULT_CSS = """
    WorkloadsPane { height: 1fr; }
    WorkloadsPane > #workloads { height: 1fr; }
    """

    BINDINGS = [Binding("g", "generate_job", "Migration Job")]

    class GenerateJob(Message):
        """The operator asked for a migration Job generated from the Deployment under the cursor."""

        def __init__(self, namespace: str, name: str) -> None:
            super().__init__()
            self.namespace = namespace  # type: ignore[misc]  # Message.namespace only matters at class creation
            self.name = name

    class WorkloadSelected(Message):
        """The operator opened a workload (enter on its row)."""

        def __init__(self, kind: str, namespace: str, name: str) -> None:
            super().__init__()
            self.kind = kind
            self.namespace = namespace  # type: ignore[misc]  # Message.namespace only matters at class creation
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._seen: dict[str, tuple[str, Row]] = {}  # row key -> (resourceVersion, row)
        self._shown_at: datetime | None = None

    def compose(self) -> ComposeResult:
        table = ResourceTable(
            COLUMNS, sort="namespace", empty_text="No workloads", clock=self._seconds, tick=1.0, id="workloads"
        )
        table.border_title = "deployments · statefulsets · daemonsets"
        yield table

    def _seconds(self) -> float:
        return (self._shown_at or datetime.now().astimezone()).timestamp()

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#workloads", ResourceTable)

    def focus_table(self) -> None:
        self.table.focus()

    def set_filter(self, text: str) -> None:
        self.table.set_filter(text)

    def show(self, snapshot: Snapshot, now: datetime) -> None:
        self._shown_at = now
        problems = [p for kind in KINDS if (p := listing_problem(snapshot, kind, PLURALS[kind]))]
        if len(problems) == len(KINDS):
            self._seen = {}
            self.table.set_notice("; ".join(problems))
            return
        rows: list[Row] = []
        seen: dict[str, tuple[str, Row]] = {}
        for kind in KINDS:
            for obj in snapshot.objects.get(kind, {}).values():
                meta: Any = obj.get("metadata") or {}
                key = f"{kind}/{meta.get('namespace') or ''}/{meta.get('name') or ''}"
                version = str(meta.get("resourceVersion") or "")
                old = self._seen.get(key)
                row = old[1] if old is not None and version and old[0] == version else _row(obj)
                seen[key] = (version, row)
                rows.append(row)
        self._seen = seen
        self.table.set_rows(rows)
        if problems:  # some kinds could be read: say which could not, under the table
            self.table.border_subtitle = Text(f"{len(rows)} · " + "; ".join(problems), style="yellow")

    def action_generate_job(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        kind, namespace, name = key.split("/", 2)
        if kind != "Deployment":
            self.notify("Migration Jobs are generated from a Deployment; move to one.", severity="warning")
            return
        self.post_message(self.GenerateJob(namespace, name))

    @on(ResourceTable.RowSelected, "#workloads")
    def _selected(self, event: ResourceTable.RowSelected) -> None:
        event.stop()
        kind, namespace, name = event.key.split("/", 2)
        self.post_message(self.WorkloadSelected(kind, namespace, name))
