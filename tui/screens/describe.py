"""What `kubectl describe` would say that matters during an incident, built from the snapshot alone.

Pure functions from objects to Rich renderables, so the details screen only lays them out.
Secret values are not in the snapshot, and env vars that take a value from a Secret are
shown by reference only (`secretKeyRef backend-secrets/db-password`).
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from diagnostics.podstatus import age, restarts_text, severity, summarize
from diagnostics.snapshot import WORKLOAD_KINDS, Obj, Snapshot, event_time

_SECRET_LIKE = re.compile(r"(?i)pass|secret|token|credential|private|api_?key")


def metadata(obj: Obj | None) -> dict[str, Any]:
    """An object's metadata, empty for a missing object or one without any."""
    return (obj or {}).get("metadata") or {}


def _ref(kind: str, obj: Obj) -> str:
    return f"{kind} {metadata(obj).get('name', '?')}"


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
        metadata(pod).get("name", "?"),
        status,
        f"{s.ready}/{s.total}",
        restarted,
        node,
        age(metadata(pod).get("creationTimestamp"), now),
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
    "DaemonSet": (
        "Replicas",
        "{desiredNumberScheduled} desired · {currentNumberScheduled} current · {numberReady} ready"
        " · {updatedNumberScheduled} updated · {numberAvailable} available",
    ),
    "Job": (
        "Completions",
        "{succeeded}/{completions} succeeded · {failed} failed · {active} active · backoffLimit {backoffLimit}",
    ),
    "CronJob": ("Schedule", "{schedule} · suspend {suspend} · last scheduled {lastScheduleTime}"),
}


_SCALED = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})  # spec.replicas defaults to 1 when left out
_CONTROLS = {"Deployment": "ReplicaSet", "CronJob": "Job"}  # the objects between a workload and its pods
_SELECTOR_OPS = {
    "In": "{key} in ({values})",
    "NotIn": "{key} notin ({values})",
    "Exists": "{key}",
    "DoesNotExist": "!{key}",
}


def selector_text(selector: dict[str, Any] | None) -> str:
    """A label selector as kubectl prints it: `app=web,tier in (api,worker),!canary`."""
    parts = [f"{k}={v}" for k, v in ((selector or {}).get("matchLabels") or {}).items()]
    for e in (selector or {}).get("matchExpressions") or []:
        op = e.get("operator", "?")
        shape = _SELECTOR_OPS.get(op, "{key} {op} ({values})")
        parts.append(shape.format(key=e.get("key", "?"), op=op, values=",".join(e.get("values") or [])))
    return ",".join(parts) or "<none>"


def _desired(obj: Obj) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def strategy_text(obj: Obj) -> str | None:
    """How a Deployment, StatefulSet or DaemonSet rolls out, with the API's defaults filled in; None for other kinds."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return None
    strategy = spec.get("strategy" if kind == "Deployment" else "updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    parts = [str(strategy.get("type") or "RollingUpdate")]
    if parts[0] == "RollingUpdate":
        if kind == "StatefulSet":
            parts.append(f"partition {rolling.get('partition', 0)}")
            if "maxUnavailable" in rolling:
                parts.append(f"max unavailable {rolling['maxUnavailable']}")
        else:
            default_unavailable, default_surge = ("25%", "25%") if kind == "Deployment" else (1, 0)
            parts.append(f"max unavailable {rolling.get('maxUnavailable', default_unavailable)}")
            parts.append(f"max surge {rolling.get('maxSurge', default_surge)}")
    if kind == "StatefulSet":
        parts.append(f"pods {spec.get('podManagementPolicy') or 'OrderedReady'}")
    if spec.get("minReadySeconds"):
        parts.append(f"min ready {spec['minReadySeconds']}s")
    if spec.get("paused"):
        parts.append("paused")
    return " · ".join(parts)


def _claim(template: dict[str, Any]) -> str:
    spec = template.get("spec") or {}
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "?")
    modes = ",".join(spec.get("accessModes") or [])
    storage_class = f" ({spec['storageClassName']})" if spec.get("storageClassName") else ""
    return f"{metadata(template).get('name', '?')} {size} {modes}".rstrip() + storage_class


def _workload_fields(obj: Obj) -> list[tuple[str, Any]]:
    """Selector, strategy and what only a StatefulSet has: its Service, claims and a rollout's revisions."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    fields: list[tuple[str, Any]] = [("Selector", selector_text(spec.get("selector")))]
    strategy = strategy_text(obj)
    if strategy is not None:
        fields.append(("Strategy", strategy))
    if obj.get("kind") == "StatefulSet":
        fields.append(("Service", spec.get("serviceName") or "<none>"))
        claims = ", ".join(_claim(t) for t in spec.get("volumeClaimTemplates") or [])
        fields.append(("Volume claims", claims or "<none>"))
        current, update = status.get("currentRevision"), status.get("updateRevision")
        if current and update and current != update:
            fields.append(("Revision", f"{current} → {update} (rolling out)"))
    return fields


def controlled(obj: Obj, snapshot: Snapshot) -> list[Obj]:
    """The objects `obj` controls between it and its pods (a Deployment's ReplicaSets), pods or not."""
    kind = _CONTROLS.get(str(obj.get("kind")))
    uid = metadata(obj).get("uid")
    if kind is None or not uid:
        return []
    return [
        child
        for child in snapshot.list(kind, metadata(obj).get("namespace"))
        if any(r.get("uid") == uid for r in metadata(child).get("ownerReferences") or ())
    ]


def _revision(obj: Obj) -> int:
    try:
        return int((metadata(obj).get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
    except ValueError:
        return 0


def _replicaset_rows(replicasets: list[Obj], now: datetime) -> list[list[RenderableType]]:
    """kubectl's NewReplicaSet and OldReplicaSets: the newest revision, and the older ones that still have pods."""
    newest = max(replicasets, key=_revision, default=None)
    rows: list[list[RenderableType]] = []
    for rs in sorted(replicasets, key=_revision, reverse=True):
        status = rs.get("status") or {}
        if rs is not newest and not (_desired(rs) or status.get("replicas")):
            continue
        images = ",".join(str(c.get("image", "?")) for c in pod_spec_of(rs).get("containers") or [])
        rows.append(
            [
                Text(str(metadata(rs).get("name", "?")), style="bold" if rs is newest else "dim"),
                f"{_revision(rs) or '—'}{' (new)' if rs is newest else ''}",
                str(_desired(rs)),
                str(status.get("replicas") or 0),
                str(status.get("readyReplicas") or 0),
                images or "—",
                age(metadata(rs).get("creationTimestamp"), now),
            ]
        )
    return rows


def _toleration(t: dict[str, Any]) -> str:
    value = f"={t['value']}" if t.get("value") else ""
    return f"{t.get('key', '*')}{value}:{t.get('effect', 'all')} ({t.get('operator', 'Equal')})"


def _head(obj: Obj, snapshot: Snapshot, pod_spec: dict[str, Any]) -> Table:
    now, kind, meta = snapshot.taken_at, str(obj.get("kind")), metadata(obj)
    chain = snapshot.owner_chain(obj)
    owners = [_ref(str(o.get("kind")), o) for o in chain[1:]]
    owners += [
        f"{r.get('kind')} {r.get('name')} (not in snapshot)"
        for r in (meta if len(chain) == 1 else metadata(chain[-1])).get("ownerReferences", [])[:1]
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
        if kind in _SCALED:
            values["replicas"] = _desired(obj)
        last = values.get("lastScheduleTime")
        values["lastScheduleTime"] = f"{age(last, now)} ago" if last else "never"
        summary = _SUMMARY[kind][1].format_map(values)
        if kind == "DaemonSet" and values["numberMisscheduled"]:
            summary += f" · {values['numberMisscheduled']} misscheduled"
        fields.append((_SUMMARY[kind][0], summary))
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        fields += _workload_fields(obj)
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
        pods = snapshot.pods_of(obj) if kind in WORKLOAD_KINDS or kind == "ReplicaSet" else []
        rows = [_pod_row(p, now) for p in pods]
        parts += [_table("Pods", ["Name", "Status", "Ready", "Restarts", "Node", "Age"], rows)]
    between = controlled(obj, snapshot)  # a ReplicaSet's FailedCreate (quota, admission) has no pod to show it
    if kind == "Deployment":
        columns = ["Name", "Revision", "Desired", "Current", "Ready", "Images", "Age"]
        parts += [_table("ReplicaSets", columns, _replicaset_rows(between, now))]
    events = [e for o in (obj, *between, *(p for p in pods if p is not obj)) for e in snapshot.events_for(o)]
    events.sort(key=event_time)
    parts += [_table("Events", ["Type", "Reason", "Age", "Object", "Message"], [_event_row(e, now) for e in events])]
    return Group(*parts)


def _cells(item: dict[str, Any], *keys: str) -> list[str]:
    return [str(item.get(k, "")) for k in keys]
