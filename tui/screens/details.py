"""`enter` on a pod or workload: a describe-like view from the snapshot, and `l` for its logs (with follow).

Everything but the logs comes from the snapshot the app already holds; logs are read
through the `read_logs` callable the app passes in, in a worker, so this screen never
talks to the cluster itself. Secret values are not in the snapshot, and env vars that
take a value from a Secret are shown by reference only (`secretKeyRef backend-secrets/db-password`).
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Log, Static
from textual.worker import Worker, WorkerState

from diagnostics.podstatus import age, restarts_text, severity, summarize
from diagnostics.snapshot import WORKLOAD_KINDS, Obj, Snapshot

ReadLogs = Callable[[str, str, str | None, bool], Awaitable[str]]  # (namespace, pod, container, previous)
LogKey = tuple[str, str, str | None, bool]
_SECRET_LIKE = re.compile(r"(?i)pass|secret|token|credential|private|api_?key")


def _meta(obj: Obj | None) -> dict[str, Any]:
    return (obj or {}).get("metadata") or {}


def _ref(kind: str, obj: Obj) -> str:
    return f"{kind} {_meta(obj).get('name', '?')}"


def _pairs(mapping: dict[str, Any] | None, sep: str = "=") -> str:
    return ", ".join(f"{k}{sep}{v}" for k, v in (mapping or {}).items()) or "<none>"


def pod_spec_of(obj: Obj) -> dict[str, Any]:
    """The pod spec a pod runs or a workload stamps out (a CronJob's through its jobTemplate)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def env_line(env: dict[str, Any]) -> str:
    """`NAME=value`, or where a valueFrom points (`secretKeyRef backend-secrets/db-password`); never a Secret's value."""
    name, source = env.get("name", "?"), env.get("valueFrom")
    if source:
        for ref, what in source.items():
            what = what or {}
            if ref in ("secretKeyRef", "configMapKeyRef"):
                optional = " (optional)" if what.get("optional") else ""
                return f"{name}  {ref} {what.get('name', '?')}/{what.get('key', '?')}{optional}"
            return f"{name}  {ref} {what.get('fieldPath') or what.get('resource') or ''}".rstrip()
    value = str(env.get("value", ""))
    return f"{name}=<hidden>" if _SECRET_LIKE.search(name) and value else f"{name}={value}"


def _container(c: dict[str, Any], init: bool) -> Text:
    t = Text.assemble(("container ", "dim"), (c.get("name", "?"), "bold"), (" (init)" if init else "", "dim"))
    rows = [("image", c.get("image", "?"))]
    if c.get("command") or c.get("args"):
        rows.append(("command", shlex.join([str(a) for a in (c.get("command") or []) + (c.get("args") or [])])))
    rows += [("env", env_line(e)) for e in c.get("env") or []]
    for src in c.get("envFrom") or []:
        rows += [("envFrom", f"{k} {(v or {}).get('name', '?')}") for k, v in src.items() if k != "prefix"]
    res = c.get("resources") or {}
    if res:
        rows.append(("resources", " · ".join(f"{k} {_pairs(v)}" for k, v in res.items())))
    if c.get("ports"):
        rows.append(("ports", ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in c["ports"])))
    for label, value in rows:
        t.append(f"\n  {label:<10}", style="dim")
        t.append(str(value))
    return t


def _table(title: str, columns: list[str], rows: list[list[RenderableType]]) -> RenderableType:
    if not rows:
        return Text.assemble(("\n" + title, "bold underline"), ("  <none>", "dim"))
    table = Table(
        title="\n" + title, title_justify="left", title_style="bold underline", box=None, padding=(0, 2, 0, 0)
    )
    for col in columns:
        table.add_column(col, style="bold" if col in ("Type", "Container", "Name") else "", overflow="fold")
    for row in rows:  # plain strings as Text: an event message like "[error] x" is not Rich markup
        table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    return table


def _state(state: dict[str, Any] | None, now: datetime) -> Text:
    for name, s in (state or {}).items():
        s = s or {}
        if name == "running":
            return Text(f"Running since {age(s.get('startedAt'), now)}", style="green")
        reason = s.get("reason") or name.capitalize()
        exit_code = f" (exit {s['exitCode']})" if "exitCode" in s else ""
        text = Text(f"{name.capitalize()}: {reason}{exit_code}", style="yellow" if name == "waiting" else "red")
        if s.get("message"):
            text.append(f"\n{s['message']}", style="dim")
        return text
    return Text("—")


_SEVERITY_STYLE = {"ok": "green", "warn": "yellow", "error": "bold red", "done": "dim"}


def _pod_row(pod: Obj, now: datetime) -> list[RenderableType]:
    """A pod as `kubectl get pods` prints it (same STATUS, READY, RESTARTS, AGE), its status coloured."""
    s = summarize(pod)
    status = Text(s.status, style=_SEVERITY_STYLE[severity(s.status)])
    node = (pod.get("spec") or {}).get("nodeName") or "—"
    restarted = restarts_text(s.restarts, s.last_restart, now)
    return [
        _meta(pod).get("name", "?"),
        status,
        f"{s.ready}/{s.total}",
        restarted,
        node,
        age(_meta(pod).get("creationTimestamp"), now),
    ]


def _event_row(ev: Obj, now: datetime) -> list[RenderableType]:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    when = (ev.get("series") or {}).get("lastObservedTime") or ev.get("lastTimestamp") or ev.get("eventTime")
    when = when or ev.get("firstTimestamp")
    count = f" (x{ev['count']})" if (ev.get("count") or 1) > 1 else ""
    kind = Text(ev.get("type", "?"), style="red" if ev.get("type") == "Warning" else "")
    about = f"{inv.get('kind', '?')} {inv.get('name', '?')}"
    return [kind, ev.get("reason", ""), age(when, now), about, (ev.get("message") or ev.get("note") or "") + count]


class _Zero(dict[str, Any]):
    def __missing__(self, key: str) -> int:
        return 0


_SCALE = "{replicas} desired · {readyReplicas} ready · {updatedReplicas} updated · {availableReplicas} available"
_SUMMARY = {
    "Deployment": ("Replicas", _SCALE),
    "StatefulSet": ("Replicas", _SCALE),
    "ReplicaSet": ("Replicas", "{replicas} desired · {readyReplicas} ready · {availableReplicas} available"),
    "DaemonSet": ("Replicas", "{desiredNumberScheduled} desired · {numberReady} ready"),
    "Job": (
        "Completions",
        "{succeeded}/{completions} succeeded · {failed} failed · {active} active · backoffLimit {backoffLimit}",
    ),
    "CronJob": ("Schedule", "{schedule} · suspend {suspend} · last scheduled {lastScheduleTime}"),
}


def _toleration(t: dict[str, Any]) -> str:
    value = f"={t['value']}" if t.get("value") else ""
    return f"{t.get('key', '*')}{value}:{t.get('effect', 'all')} ({t.get('operator', 'Equal')})"


def _head(obj: Obj, snapshot: Snapshot, pod_spec: dict[str, Any]) -> Table:
    now, kind, meta = snapshot.taken_at, str(obj.get("kind")), _meta(obj)
    chain = snapshot.owner_chain(obj)
    owners = [_ref(str(o.get("kind")), o) for o in chain[1:]]
    owners += [
        f"{r.get('kind')} {r.get('name')} (not in snapshot)"
        for r in (meta if len(chain) == 1 else _meta(chain[-1])).get("ownerReferences", [])[:1]
    ]
    fields = [("Kind", kind), ("Name", meta.get("name")), ("Namespace", meta.get("namespace") or "—")]
    fields += [("Age", age(meta.get("creationTimestamp"), now)), ("Labels", _pairs(meta.get("labels")))]
    fields.append(("Owners", " → ".join(owners) or "<none>"))
    if kind == "Pod":
        fields += [
            ("Status", summarize(obj).status),
            ("Node", (obj.get("spec") or {}).get("nodeName") or "<not scheduled>"),
        ]
    if kind in _SUMMARY:
        values = _Zero({**(obj.get("status") or {}), **(obj.get("spec") or {})})
        last = values.get("lastScheduleTime")
        values["lastScheduleTime"] = f"{age(last, now)} ago" if last else "never"
        fields.append((_SUMMARY[kind][0], _SUMMARY[kind][1].format_map(values)))
    tolerations = ", ".join(_toleration(t) for t in pod_spec.get("tolerations") or [])
    fields += [("Node selector", _pairs(pod_spec.get("nodeSelector"))), ("Tolerations", tolerations or "<none>")]
    fields.append(("Service account", pod_spec.get("serviceAccountName") or "default"))
    if pod_spec.get("imagePullSecrets"):
        fields.append(("Pull secrets", ", ".join(s.get("name", "?") for s in pod_spec["imagePullSecrets"])))
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    for label, value in fields:
        head.add_row(label, Text(str(value)))
    return head


def describe(obj: Obj, snapshot: Snapshot) -> Group:
    """What `kubectl describe` would say that matters during an incident, built from the snapshot."""
    now, kind, status, pod_spec = snapshot.taken_at, obj.get("kind"), obj.get("status") or {}, pod_spec_of(obj)
    parts: list[RenderableType] = [_head(obj, snapshot, pod_spec), Text("")]
    parts += [_container(c, True) for c in pod_spec.get("initContainers") or []]
    parts += [_container(c, False) for c in pod_spec.get("containers") or []]
    conds = [
        [*_cells(c, "type", "status", "reason"), age(c.get("lastTransitionTime"), now), c.get("message", "")]
        for c in status.get("conditions") or []
    ]
    parts += [_table("Conditions", ["Type", "Status", "Reason", "Age", "Message"], conds)]
    if kind == "Pod":
        pods = [obj]
        statuses = [
            [
                cs.get("name", "?"),
                "yes" if cs.get("ready") else "no",
                _state(cs.get("state"), now),
                str(cs.get("restartCount", 0)),
                _state(cs.get("lastState"), now),
            ]
            for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
        ]
        parts += [_table("Containers", ["Container", "Ready", "State", "Restarts", "Last termination"], statuses)]
    else:
        pods = snapshot.pods_of(obj) if kind in WORKLOAD_KINDS else []
        rows = [_pod_row(p, now) for p in pods]
        parts += [_table("Pods", ["Name", "Status", "Ready", "Restarts", "Node", "Age"], rows)]
    events = snapshot.events_for(obj) + [e for p in pods if p is not obj for e in snapshot.events_for(p)]
    parts += [_table("Events", ["Type", "Reason", "Age", "Object", "Message"], [_event_row(e, now) for e in events])]
    return Group(*parts)


def _cells(item: dict[str, Any], *keys: str) -> list[str]:
    return [str(item.get(k, "")) for k in keys]


class DetailsScreen(Screen[None]):
    """A pod or workload described; `l` logs, `f` follow, `p` previous container, `c` next container, escape back."""

    DEFAULT_CSS = """
    DetailsScreen #details-title { background: $boost; padding: 0 1; text-style: bold; }
    DetailsScreen ContentSwitcher, DetailsScreen #describe, DetailsScreen #logs, DetailsScreen Log { height: 1fr; }
    DetailsScreen #describe-body, DetailsScreen #logs-status { padding: 0 1; }
    DetailsScreen #logs-status { height: auto; color: $text-muted; }
    """
    BINDINGS = [
        Binding("l", "logs", "Logs"),
        Binding("f", "follow", "Follow"),
        Binding("p", "previous", "Previous logs"),
        Binding("c", "next_container", "Next container"),
        Binding("escape", "back", "Back"),
    ]

    class LogsRead(Message):
        """A worker read the logs of `key` = (namespace, pod, container, previous): the whole text so far."""

        def __init__(self, key: LogKey, text: str) -> None:
            super().__init__()
            self.key, self.text = key, text

    def __init__(
        self, obj: Obj, snapshot: Snapshot, read_logs: ReadLogs | None = None, *, follow_interval: float = 1.0
    ) -> None:
        super().__init__()
        self.obj, self.snapshot, self.read_logs, self.follow_interval = obj, snapshot, read_logs, follow_interval
        pods = [obj] if obj.get("kind") == "Pod" else snapshot.pods_of(obj)
        # a workload's first pod whose containers have started: a Pending pod has no logs to read
        started = [p for p in pods if (p.get("status") or {}).get("containerStatuses")]
        self.pod: Obj | None = next(iter(started or pods), None)
        spec = (self.pod or {}).get("spec") or {}
        self.containers = [c.get("name") for c in spec.get("containers") or []]
        default = (_meta(self.pod).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        self.container: str | None = default if default in self.containers else next(iter(self.containers), None)
        self.previous = False
        self.following = False
        self.log_text = ""  # what the Log shows: the last read's whole text
        self._key: LogKey | None = None
        self._view = "describe"

    def compose(self) -> ComposeResult:
        meta = _meta(self.obj)
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        yield Static(Text(f"{self.obj.get('kind')} {where}{meta.get('name')}"), id="details-title")
        with ContentSwitcher(initial="describe"):
            with VerticalScroll(id="describe"):
                yield Static(describe(self.obj, self.snapshot), id="describe-body")
            with Vertical(id="logs"):
                yield Static(id="logs-status")
                yield Log(id="logs-lines")
        yield Footer()

    @property
    def showing_logs(self) -> bool:
        return self._view == "logs"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.showing_logs or action not in ("follow", "previous", "next_container")

    # --- logs -------------------------------------------------------------------------------

    def _status(self, note: str = "") -> None:
        if self.pod is None:
            text = "No pod to read logs from: this workload has no pods in the snapshot."
        elif self.read_logs is None:
            text = "Logs are not available: there is no cluster connection to read them from."
        else:
            meta = _meta(self.pod)
            text = (
                f"logs {meta.get('namespace')}/{meta.get('name')} · container {self.container}"
                f"{' · previous' if self.previous else ''} · {'following' if self.following else 'not following'}"
                f"{' · ' + note if note else ''}"
            )
        self.query_one("#logs-status", Static).update(Text(text))

    def _start(self) -> None:
        """(Re)read the logs on display, following if asked; a new key starts from an empty log."""
        self.workers.cancel_group(self, "logs")
        if self.pod is None or self.read_logs is None:
            self.following = False
            self._status()
            return
        meta = _meta(self.pod)
        key: LogKey = (str(meta.get("namespace") or ""), str(meta.get("name")), self.container, self.previous)
        if key != self._key:
            self._key, self.log_text = key, ""
            self.query_one(Log).clear()
        self._status("reading…")
        self._read(key, self.following)

    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _read(self, key: LogKey, follow: bool) -> None:
        assert self.read_logs is not None
        while True:
            self.post_message(self.LogsRead(key, await self.read_logs(*key)))
            if not follow:
                return
            await asyncio.sleep(self.follow_interval)

    def on_details_screen_logs_read(self, message: LogsRead) -> None:
        if message.key != self._key:
            return  # a read for a container or mode no longer on display
        log = self.query_one(Log)
        if message.text.startswith(self.log_text):
            if len(message.text) > len(self.log_text):
                log.write(message.text[len(self.log_text) :])
        else:  # the log rotated or the container restarted: show what is there now
            log.clear()
            log.write(message.text)
        self.log_text = message.text
        self._status("" if message.text else "no log lines yet")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "logs" and event.state == WorkerState.ERROR:
            self.following = False
            self._status(f"could not read the logs: {event.worker.error}")

    def action_logs(self) -> None:
        self._view = self.query_one(ContentSwitcher).current = "logs"
        self.query_one(Log).focus()
        self.refresh_bindings()
        self._start()

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self._start()
        else:
            self.workers.cancel_group(self, "logs")
            self._status()

    def action_previous(self) -> None:
        self.previous = not self.previous
        self.following = False  # a terminated container's log does not grow
        self._start()

    def action_next_container(self) -> None:
        if len(self.containers) > 1:
            self.container = self.containers[(self.containers.index(self.container) + 1) % len(self.containers)]
            self._start()

    def action_back(self) -> None:
        if self.showing_logs:
            self.workers.cancel_group(self, "logs")
            self.following = False
            self._view = self.query_one(ContentSwitcher).current = "describe"
            self.query_one("#describe").focus()
            self.refresh_bindings()
        else:
            self.dismiss(None)
