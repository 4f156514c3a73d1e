"""ClusterPane: nodes (ready, pool, requested/allocatable) above pods (kubectl's READY, STATUS, RESTARTS, AGE).

`show` is called for every repaint of a watch cache with 10,000 pods. Given the keys that
changed since the last one, it converts just those pods (once per resourceVersion), moves
just their rows and adjusts the per-node requests by their difference. AGE and the
"(2m ago)" of RESTARTS are live cells: the table works them out for visible lines only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from diagnostics import quantity
from diagnostics.podstatus import PodSummary, human_duration, parse_time, restarts_text, severity, summarize
from diagnostics.snapshot import Key, Obj, Snapshot
from tui.widgets.resource_table import AnyCell, Column, ResourceTable, Row

SEVERITY_STYLE = {"error": "red", "warn": "yellow", "ok": "green", "done": "dim"}
SEVERITY_RANK = {"error": 0, "warn": 1, "ok": 2, "done": 3}
POOL_LABELS = (
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "agentpool",
    "node.kubernetes.io/instance-type",
)
# width None: fitted to the widest cell, leftmost first, so narrow terminals cut NODE before NAME
NODE_COLUMNS = (
    Column("name", "NAME"),
    Column("status", "STATUS"),
    Column("pods", "PODS", align="right"),
    Column("cpu", "CPU", align="right"),
    Column("memory", "MEMORY", align="right"),
    Column("pool", "POOL"),
)
POD_COLUMNS = (
    Column("namespace", "NAMESPACE"),
    Column("name", "NAME"),
    Column("ready", "READY", 5, "right"),
    Column("status", "STATUS"),
    Column("restarts", "RESTARTS", align="right"),
    Column("age", "AGE", 6, "right"),
    Column("node", "NODE"),
)


@dataclass(slots=True)
class _Pod:
    """One pod version converted for display, with its row."""

    obj: Obj
    version: str
    summary: PodSummary
    namespace: str
    name: str
    node: str
    created: float | None
    active: bool  # scheduled and not finished: counts against its node's allocatable
    cpu: int  # millicores requested
    memory: int  # bytes requested
    row: Row


@lru_cache(maxsize=4096)
def _milli(value: str) -> int:
    try:
        return int(quantity.parse(value) * 1000)
    except ValueError:
        return 0


def _requests(spec: dict[str, Any]) -> tuple[int, int]:
    """(millicores, bytes) the scheduler reserves: containers and sidecars, or the largest init container if more."""
    cpu = memory = init_cpu = init_memory = 0
    for c in spec.get("containers") or ():
        req = (c.get("resources") or {}).get("requests") or {}
        cpu, memory = cpu + _milli(str(req.get("cpu", 0))), memory + _milli(str(req.get("memory", 0))) // 1000
    for c in spec.get("initContainers") or ():
        req = (c.get("resources") or {}).get("requests") or {}
        c_cpu, c_memory = _milli(str(req.get("cpu", 0))), _milli(str(req.get("memory", 0))) // 1000
        if c.get("restartPolicy") == "Always":  # a sidecar runs next to the containers
            cpu, memory = cpu + c_cpu, memory + c_memory
        else:
            init_cpu, init_memory = max(init_cpu, c_cpu), max(init_memory, c_memory)
    overhead = spec.get("overhead") or {}
    return (
        max(cpu, init_cpu) + _milli(str(overhead.get("cpu", 0))),
        max(memory, init_memory) + _milli(str(overhead.get("memory", 0))) // 1000,
    )


def _convert(pod: Obj, version: str) -> _Pod:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    s = summarize(pod)
    created_at = parse_time(meta.get("creationTimestamp"))
    created = created_at.timestamp() if created_at else None
    phase = (pod.get("status") or {}).get("phase")
    sev = severity(s.status)
    ready_text = f"{s.ready}/{s.total}"
    ready: str | Text = Text(ready_text, style="yellow") if s.status == "Running" and s.ready < s.total else ready_text
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    node = str(spec.get("nodeName") or "")
    row = Row(
        f"{namespace}/{name}",
        (namespace, name, ready, Text(s.status, style=SEVERITY_STYLE[sev]), _restarts(s), _age(created), node),
        (
            (namespace, name),
            (name, namespace),
            (s.ready - s.total, s.ready),
            (SEVERITY_RANK[sev], s.status),
            s.restarts,
            -(created or 0.0),
            node,
        ),
    )
    active = bool(node) and phase not in ("Succeeded", "Failed")
    return _Pod(pod, version, s, namespace, name, node, created, active, *_requests(spec), row=row)


def _age(created: float | None) -> AnyCell:
    if created is None:
        return "<unknown>"
    return lambda now: human_duration(now - created)


def _restarts(s: PodSummary) -> AnyCell:
    if not s.restarts or s.last_restart is None:
        return str(s.restarts)
    return lambda now: restarts_text(s.restarts, s.last_restart, datetime.fromtimestamp(now, UTC))


def _pool(node: Obj) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return next((str(labels[k]) for k in POOL_LABELS if labels.get(k)), "")


def _node_status(node: Obj) -> str:
    ready = "Unknown"
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            ready = "Ready" if cond.get("status") == "True" else "NotReady"
    return ready + (",SchedulingDisabled" if (node.get("spec") or {}).get("unschedulable") else "")


def _cpu(milli: int) -> str:
    return quantity.cpu(Decimal(milli) / 1000)


def _memory(size: int) -> str:
    return quantity.memory(Decimal(size))


def _usage(requested: int | None, allocatable: Any, text: Callable[[int], str], unit: int) -> tuple[str, float]:
    """`1250m/3920m 31%` and the share for sorting; `?` for what could not be read."""
    total = _milli(str(allocatable)) // unit if allocatable is not None else 0
    used, cap = "?" if requested is None else text(requested), text(total) if total else "?"
    if requested is None or not total:
        return f"{used}/{cap}", -1.0
    return f"{used}/{cap} {requested * 100 // total}%", requested / total


def listing_problem(snapshot: Snapshot, kind: str, plural: str) -> str | None:
    """`could not list pods: forbidden` when the kind could not be read: never shown as an empty table."""
    if kind in snapshot.forbidden:
        return f"could not list {plural}: forbidden"
    if kind in snapshot.errors:
        return f"could not list {plural}: {snapshot.errors[kind]}"
    return None


class ClusterPane(Vertical):
    """The nodes table above the pods table; `show(snapshot, now)` refreshes both."""

    DEFAULT_CSS = """
    ClusterPane { height: 1fr; }
    ClusterPane > #nodes { height: auto; max-height: 35%; }
    ClusterPane > #pods { height: 1fr; }
    """

    class PodSelected(Message):
        """The operator opened a pod (enter on its row)."""

        def __init__(self, namespace: str, name: str) -> None:
            super().__init__()
            self.namespace = namespace  # type: ignore[misc]  # Message.namespace only matters at class creation
            self.name = name

    class NodeSelected(Message):
        """The operator opened a node (enter on its row)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`clock` keeps AGE moving between repaints; without one, ages are those at the `now` of the last `show`."""
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self._shown_at: datetime | None = None
        self._pods: dict[Key, _Pod] = {}
        self._listed = False  # the pods table shows pods (not a "could not list" notice)
        self._usage: dict[str, list[int]] = {}  # node name -> [millicores, bytes, pods] requested by active pods

    def compose(self) -> ComposeResult:
        nodes = ResourceTable(NODE_COLUMNS, sort="name", empty_text="No nodes", id="nodes")
        nodes.border_title = "nodes"
        pods = ResourceTable(
            POD_COLUMNS,
            sort="namespace",
            empty_text="No pods",
            clock=self._seconds,
            tick=1.0 if self._clock else None,
            id="pods",
        )
        pods.border_title = "pods"
        yield nodes
        yield pods

    def _seconds(self) -> float:
        now = self._clock() if self._clock else self._shown_at or datetime.now(UTC)
        return now.timestamp()

    @property
    def pods(self) -> ResourceTable:
        return self.query_one("#pods", ResourceTable)

    @property
    def nodes(self) -> ResourceTable:
        return self.query_one("#nodes", ResourceTable)

    def focus_pods(self) -> None:
        self.pods.focus()

    def set_filter(self, text: str) -> None:
        """Filter the pods (a node's name shows the pods on it)."""
        self.pods.set_filter(text)

    def show(self, snapshot: Snapshot, now: datetime, changed: Mapping[str, Collection[Key]] | None = None) -> None:
        """Bring both tables up to `snapshot`; `changed` (keys by kind since the last call) narrows the work."""
        if now != self._shown_at:
            self._shown_at = now
            if self._clock is None:
                self.pods.refresh()  # the live cells read the new time
        pods = None if changed is None else changed.get("Pod", ())
        if pods is None or pods:
            self._show_pods(snapshot, pods)
        if changed is None or changed.get("Node") or pods:
            self._show_nodes(snapshot, self._usage if self._listed else None)

    def _show_pods(self, snapshot: Snapshot, changed: Collection[Key] | None) -> None:
        problem = listing_problem(snapshot, "Pod", "pods")
        if problem is not None:
            self._pods, self._usage, self._listed = {}, {}, False
            self.pods.set_notice(problem)
            return
        current = snapshot.objects.get("Pod", {})
        if changed is None or not self._listed:  # everything: one sort
            old, self._pods, self._usage = self._pods, {}, {}
            for key, obj in current.items():
                entry = old.get(key)
                version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                if entry is None or not (entry.obj is obj or (version and entry.version == version)):
                    entry = _convert(obj, version)
                self._pods[key] = entry
                self._use(entry, 1)
            self._listed = True
            self.pods.set_rows([e.row for e in self._pods.values()])
            return
        upserts: list[Row] = []
        removed: list[str] = []
        for key in changed:
            obj = current.get(key)
            entry = self._pods.get(key)
            if obj is None:
                if entry is not None:
                    self._use(entry, -1)
                    del self._pods[key]
                    removed.append(entry.row.key)
                continue
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if entry is not None and (entry.obj is obj or (version and entry.version == version)):
                continue
            if entry is not None:
                self._use(entry, -1)
            entry = self._pods[key] = _convert(obj, version)
            self._use(entry, 1)
            upserts.append(entry.row)
        self.pods.update(upserts, removed)

    def _use(self, entry: _Pod, sign: int) -> None:
        if entry.active:
            usage = self._usage.setdefault(entry.node, [0, 0, 0])
            usage[0] += sign * entry.cpu
            usage[1] += sign * entry.memory
            usage[2] += sign

    def _show_nodes(self, snapshot: Snapshot, usage: Mapping[str, list[int]] | None) -> None:
        problem = listing_problem(snapshot, "Node", "nodes")
        if problem is not None:
            self.nodes.set_notice(problem)
            return
        rows = []
        for node in snapshot.list("Node"):
            name = str((node.get("metadata") or {}).get("name") or "")
            allocatable = (node.get("status") or {}).get("allocatable") or {}
            cpu, memory, count = usage.get(name, (0, 0, 0)) if usage is not None else (None, None, None)
            cpu_text, cpu_share = _usage(cpu, allocatable.get("cpu"), _cpu, 1)
            mem_text, mem_share = _usage(memory, allocatable.get("memory"), _memory, 1000)
            status = _node_status(node)
            pods = "?" if count is None else f"{count}/{allocatable['pods']}" if allocatable.get("pods") else str(count)
            cells = (name, Text(status, style="green" if status == "Ready" else "red"), pods, cpu_text, mem_text)
            pool = _pool(node)
            rows.append(Row(name, (*cells, pool), (name, status, count or 0, cpu_share, mem_share, pool)))
        self.nodes.set_rows(rows)

    @on(ResourceTable.RowSelected, "#pods")
    def _pod_selected(self, event: ResourceTable.RowSelected) -> None:
        event.stop()
        namespace, _, name = event.key.partition("/")
        self.post_message(self.PodSelected(namespace, name))

    @on(ResourceTable.RowSelected, "#nodes")
    def _node_selected(self, event: ResourceTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.NodeSelected(event.key))
