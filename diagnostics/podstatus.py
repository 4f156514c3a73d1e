"""A pod's READY, STATUS, RESTARTS and AGE exactly as `kubectl get pods` prints them.

The STATUS logic is a port of the API server's pod printer (Kubernetes 1.32), surprises
included: container statuses are read last to first, so the *first* container's waiting
reason wins; a pod whose containers exited 0 while one still runs reads `Running` (or
`NotReady`); a deleted pod reads `Terminating` unless it already finished. Ages follow
apimachinery's `HumanDuration` (`5s`, `3m2s`, `47h`, `2d3h`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

Pod = Mapping[str, Any]
Severity = Literal["ok", "warn", "error", "done"]

NODE_LOST = "NodeLost"  # the reason the node lifecycle controller gives pods of an unreachable node
_DONE = frozenset({"Completed", "Succeeded", "Complete"})
_WARN = frozenset(
    {"Pending", "ContainerCreating", "PodInitializing", "Terminating", "NotReady", "SchedulingGated", "Suspended"}
)


@dataclass(frozen=True, slots=True)
class PodSummary:
    """What the printer derives from one pod: its STATUS reason, READY counts and restarts."""

    status: str
    ready: int
    total: int
    restarts: int
    last_restart: datetime | None  # when the most recently restarted container last terminated


def summarize(pod: Pod) -> PodSummary:
    """Everything `pod_status`, `ready` and `restarts` report, computed in one pass."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    init_specs = spec.get("initContainers") or ()
    total = len(spec.get("containers") or ())
    sidecars = {c.get("name", "") for c in init_specs if c.get("restartPolicy") == "Always"}
    total += len(sidecars)
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or ()
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    restarts = sidecar_restarts = ready = 0
    last: datetime | None = None
    last_sidecar: datetime | None = None
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        count = cs.get("restartCount") or 0
        finished = _last_finished(cs)
        restarts += count
        last = _later(last, finished)
        sidecar = cs.get("name", "") in sidecars
        if sidecar:
            sidecar_restarts += count
            last_sidecar = _later(last_sidecar, finished)
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and (terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += bool(cs.get("ready"))
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode') or 0}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last = sidecar_restarts, last_sidecar
        has_running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += cs.get("restartCount") or 0
            last = _later(last, _last_finished(cs))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                signal = terminated.get("signal")
                reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode') or 0}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        if status.get("reason") == NODE_LOST:
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return PodSummary(str(reason), ready, total, restarts, last)


def pod_status(pod: Pod) -> str:
    """The STATUS column: `Running`, `CrashLoopBackOff`, `Init:0/2`, `Terminating`, `ExitCode:137`…"""
    return summarize(pod).status


def ready(pod: Pod) -> tuple[int, int]:
    """The READY column as (ready, total): restartable init containers (sidecars) count in both."""
    s = summarize(pod)
    return s.ready, s.total


def restarts(pod: Pod) -> tuple[int, datetime | None]:
    """Restarts and when the last one happened; once initialised, only sidecar init restarts count."""
    s = summarize(pod)
    return s.restarts, s.last_restart


def restarts_text(count: int, last: datetime | None, now: datetime) -> str:
    """The RESTARTS cell: `0`, or `3 (2m ago)` when the last termination time is known."""
    if count and last is not None:
        return f"{count} ({human_duration((now - last).total_seconds())} ago)"
    return str(count)


def age(timestamp: str | datetime | None, now: datetime) -> str:
    """The AGE of an RFC 3339 timestamp at `now`; `<unknown>` when it is missing or unreadable."""
    at = parse_time(timestamp) if isinstance(timestamp, str) or timestamp is None else timestamp
    if at is None:
        return "<unknown>"
    return human_duration((now - at).total_seconds())


def human_duration(seconds: float) -> str:
    """apimachinery's HumanDuration: two units at most, coarser as it grows; up to 1 s in the future is `0s`."""
    whole = int(seconds)  # Go truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        s = whole % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def severity(status: str) -> Severity:
    """How alarming a STATUS (or Job status) is, for colour: unknown reasons count as errors.

    `Init:1/3` is progress (warn) while `Init:CrashLoopBackOff` is an error, as is every
    reason outside the known healthy and transitional ones (`OOMKilled`, `ExitCode:1`, `Evicted`).
    """
    if status == "Running":
        return "ok"
    if status in _DONE:
        return "done"
    if status in _WARN:
        return "warn"
    if status.startswith("Init:"):
        done, _, of = status[5:].partition("/")
        return "warn" if done.isdigit() and of.isdigit() else "error"
    return "error"


@lru_cache(maxsize=65536)  # stamps repeat across the pods of one workload and across snapshots
def parse_time(stamp: str | None) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when empty or unreadable."""
    if not stamp:
        return None
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _last_finished(container_status: Mapping[str, Any]) -> datetime | None:
    terminated = (container_status.get("lastState") or {}).get("terminated") or {}
    stamp = terminated.get("finishedAt")
    return parse_time(stamp) if isinstance(stamp, str) else None


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _condition_true(conditions: Iterable[Mapping[str, Any]], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conditions)
