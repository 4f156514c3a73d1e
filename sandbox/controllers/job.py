"""The Job controller: run pods to completion, count successes and failures, finish as 1.32 does.

Parallelism and completions (NonIndexed and Indexed), backoffLimit (failed pods with
restartPolicy Never, container restarts with OnFailure), the pod-failure back-off
(10 s doubling, capped at 10 min, on the fast clock), activeDeadlineSeconds, suspend and
ttlSecondsAfterFinished. Finishing writes the interim condition first, as 1.32 does:
`SuccessCriteriaMet` then `Complete`, or `FailureTarget` then `Failed`.

Pods that cannot start (unschedulable, image pulls, CreateContainerConfigError) stay
Pending: they keep the Job active and count as nothing, as on a cluster.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.controllers import podtemplate as pt
from sandbox.controllers import simtime
from sandbox.controllers.base import Context, Controller, Key
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind

JOB: ResourceType = by_kind("batch/v1", "Job")  # type: ignore[assignment]
POD = pt.POD
COMPONENT = "job-controller"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 600.0  # MaxJobPodFailureBackOff in pkg/controller/job
MAX_PER_SYNC = 500
COMPLETED_MESSAGE = "Reached expected number of succeeded pods"
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"


@dataclass(slots=True)
class _Tally:
    """What the controller remembers of one Job between passes (the real one keeps it in finalizers)."""

    counted: dict[str, str] = field(default_factory=dict)  # pod uid -> "s" | "f"
    lost: set[str] = field(default_factory=set)  # uids of live pods deleted behind our back (they count as failed)
    deleting: set[str] = field(default_factory=set)  # uids we deleted on purpose
    failures_since_success: int = 0
    last_failure: datetime | None = None  # when the last counted failure was seen
    started: datetime | None = None  # precise `status.startTime`, when this controller set it
    finished: datetime | None = None  # precise finishing time, for the TTL


class JobController(Controller):
    name = "job"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._tallies: dict[str, _Tally] = {}  # job uid -> tally

    # --- watching --------------------------------------------------------------------------

    def initial_keys(self) -> list[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(JOB)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is POD:
            ref = pt.controller_of(obj)
            if ref is None or ref.get("kind") != "Job":
                return
            ns = obj["metadata"].get("namespace", "")
            if type_ == "DELETED":
                tally = self._tallies.get(ref.get("uid", ""))
                uid = obj["metadata"].get("uid", "")
                if (
                    tally is not None
                    and uid not in tally.deleting
                    and uid not in tally.counted
                    and not pt.is_terminal(obj)
                ):
                    tally.lost.add(uid)
            self.enqueue((ns, ref["name"]))
        elif rt is JOB:
            meta = obj["metadata"]
            if type_ == "DELETED":
                self._tallies.pop(meta.get("uid", ""), None)
            elif old is None or old["metadata"].get("generation") != meta.get("generation"):
                self.enqueue((meta["namespace"], meta["name"]))

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        ns, name = key
        job = self.store.get(JOB, ns, name)
        if job is None:
            return
        if _finished(job):
            self._expire(job)
            return
        _Pass(self, job).run()

    def _expire(self, job: dict[str, Any]) -> None:
        """ttlSecondsAfterFinished: the TTL-after-finished controller's part."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None or job["metadata"].get("deletionTimestamp"):
            return
        status = job.get("status") or {}
        finished_at = status.get("completionTime")
        if not finished_at:
            finished_at = next(
                (
                    c.get("lastTransitionTime")
                    for c in status.get("conditions") or ()
                    if c.get("type") in ("Complete", "Failed")
                ),
                None,
            )
        tally = self._tallies.get(job["metadata"].get("uid", ""))
        since: str | datetime | None = finished_at
        if tally is not None and tally.finished is not None:
            since = tally.finished
        left = simtime.left(self.clock, since, _int(ttl, 0))
        meta = job["metadata"]
        if left > 0:
            self.requeue_after((meta["namespace"], meta["name"]), left + 0.5)
            return
        with contextlib.suppress(APIError):  # already gone
            self.store.delete(JOB, meta["namespace"], meta["name"], propagation="Foreground")


class _Pass:
    """One sync of one Job (1.32's syncJob, without finalizers: the tally stands in for them)."""

    def __init__(self, c: JobController, job: dict[str, Any]) -> None:
        self.c, self.store, self.clock = c, c.store, c.clock
        self.job = job
        self.meta = job["metadata"]
        self.ns, self.name, self.uid = self.meta["namespace"], self.meta["name"], self.meta["uid"]
        self.spec = job.get("spec") or {}
        self.tally = c._tallies.setdefault(self.uid, _Tally())
        self.status: dict[str, Any] = {k: v for k, v in (job.get("status") or {}).items()}
        self.conditions: list[dict[str, Any]] = [dict(x) for x in self.status.get("conditions") or ()]
        self.events: list[tuple[str, str, str]] = []

    def run(self) -> None:
        spec, tally = self.spec, self.tally
        pods = pt.owned(self.store, self.job, "Pod")
        active = [p for p in pods if pt.is_active(p)]
        indexed = spec.get("completionMode") == "Indexed"
        suspended = bool(spec.get("suspend"))
        now = self.clock.stamp()

        new_succeeded, new_failed = 0, 0
        for p in pods:
            uid = p["metadata"]["uid"]
            if uid in tally.counted:
                continue
            ph = pt.phase(p)
            if ph == "Succeeded":
                tally.counted[uid] = "s"
                new_succeeded += 1
            elif ph == "Failed":
                tally.counted[uid] = "f"
                new_failed += 1
        for uid in list(tally.lost):
            tally.counted[uid] = "f"
            new_failed += 1
        tally.lost.clear()
        if new_succeeded:
            tally.failures_since_success = 0
            tally.last_failure = None
        if new_failed:
            tally.failures_since_success += new_failed
            tally.last_failure = self.clock.now_precise()

        succeeded = _int(self.status.get("succeeded"), 0) + new_succeeded
        failed = _int(self.status.get("failed"), 0) + new_failed
        completed_indexes: list[int] = []
        if indexed:
            completed_indexes = sorted(
                {
                    ix
                    for p in pods
                    if pt.phase(p) == "Succeeded"
                    and (ix := _index(p)) is not None
                    and ix < _int(spec.get("completions"), 1)
                }
                | set(_parse_indexes(self.status.get("completedIndexes") or ""))
            )
            succeeded = len(completed_indexes)

        if not self.status.get("startTime") and not suspended:
            self.status["startTime"] = now
            tally.started = self.clock.now_precise()

        finish: tuple[str, str, str] | None = None  # (final type, reason, message)
        if _has(self.conditions, "SuccessCriteriaMet"):
            finish = ("Complete", "CompletionsReached", COMPLETED_MESSAGE)
        elif (target := _get(self.conditions, "FailureTarget")) is not None and target.get("status") == "True":
            finish = ("Failed", target.get("reason", ""), target.get("message", ""))
        elif failed > _int(spec.get("backoffLimit"), 6) or self._past_backoff_on_failure(active):
            finish = ("Failed", "BackoffLimitExceeded", BACKOFF_MESSAGE)
        elif self._past_deadline(suspended):
            finish = ("Failed", "DeadlineExceeded", DEADLINE_MESSAGE)
        elif spec.get("activeDeadlineSeconds") is not None and not suspended:
            left = simtime.left(self.clock, self._started(), _int(spec["activeDeadlineSeconds"], 0))
            self.c.requeue_after((self.ns, self.name), max(left, 0.0) + 0.5)

        ready = sum(1 for p in active if pt.is_ready(p))
        if finish is not None:
            if finish[0] == "Failed":
                # every pod still running when the Job fails is deleted and counted as failed
                for p in active:
                    if self._delete(p):
                        tally.counted[p["metadata"]["uid"]] = "f"
                        failed += 1
                active, ready = [], 0
        else:
            active, ready = self._manage(active, ready, succeeded, completed_indexes, suspended)
            completions = spec.get("completions")
            if completions is None:
                complete = succeeded > 0 and not active
            else:
                complete = succeeded >= _int(completions, 1) and not active
            if complete:
                finish = ("Complete", "CompletionsReached", COMPLETED_MESSAGE)
            elif suspended:
                if _ensure(self.conditions, "Suspended", "True", "JobSuspended", "Job suspended", now):
                    self.events.append(("Normal", "Suspended", "Job suspended"))
            elif _ensure(self.conditions, "Suspended", "False", "JobResumed", "Job resumed", now, create=False):
                self.events.append(("Normal", "Resumed", "Job resumed"))
                self.status["startTime"] = now
                tally.started = self.clock.now_precise()

        status = self.status
        if active:
            status["active"] = len(active)
        else:
            status.pop("active", None)
        for k, v in (("succeeded", succeeded), ("failed", failed)):
            if v:
                status[k] = v
            else:
                status.pop(k, None)
        if indexed and completed_indexes:
            status["completedIndexes"] = _format_indexes(completed_indexes)
        else:
            status.pop("completedIndexes", None)
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        status["ready"] = ready
        if finish is not None:
            interim = "SuccessCriteriaMet" if finish[0] == "Complete" else "FailureTarget"
            if not _has(self.conditions, interim):
                self.conditions.append(_condition(interim, finish[1], finish[2], now))
            _ensure(self.conditions, finish[0], "True", finish[1], finish[2], now)
            tally.finished = self.clock.now_precise()
            if finish[0] == "Complete":
                status["completionTime"] = now
                if spec.get("completions") is not None and succeeded > _int(spec.get("completions"), 1):
                    self.events.append(
                        (
                            "Warning",
                            "TooManySucceededPods",
                            "Too many succeeded pods running after completion count reached",
                        )
                    )
                self.events.append(("Normal", "Completed", "Job completed"))
            else:
                self.events.append(("Warning", finish[1], finish[2]))
        if self.conditions:
            status["conditions"] = self.conditions
        else:
            status.pop("conditions", None)
        if status != (self.job.get("status") or {}):
            self.store.mutate(JOB, self.ns, self.name, lambda o: o.__setitem__("status", status), subresource="status")
        for type_, reason, message in self.events:
            self.c.recorder.record(self.job, type_, reason, message, component=COMPONENT)
        if finish is not None:
            self.c.enqueue((self.ns, self.name))  # the TTL, if any, starts now

    # --- pods ------------------------------------------------------------------------------

    def _manage(
        self, active: list[dict[str, Any]], ready: int, succeeded: int, completed: list[int], suspended: bool
    ) -> tuple[list[dict[str, Any]], int]:
        spec = self.spec
        if suspended:
            for p in active:
                self._delete(p)
            return [], 0
        parallelism = _int(spec.get("parallelism"), 1)
        completions = spec.get("completions")
        if completions is None:
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = max(0, min(_int(completions, 1) - succeeded, parallelism))
        if len(active) > want:
            victims = pt.deletion_order(active)[: min(len(active) - want, MAX_PER_SYNC)]
            gone = {p["metadata"]["uid"] for p in victims if self._delete(p)}
            kept = [p for p in active if p["metadata"]["uid"] not in gone]
            return kept, sum(1 for p in kept if pt.is_ready(p))
        missing = min(want - len(active), MAX_PER_SYNC)
        if missing <= 0:
            return active, ready
        wait = self._backoff_left()
        if wait > 0:
            self.c.requeue_after((self.ns, self.name), wait + 0.5)
            return active, ready
        indexes: list[int | None] = [None] * missing
        if spec.get("completionMode") == "Indexed":
            busy = {_index(p) for p in active} | set(completed)
            free = [i for i in range(_int(completions, 1)) if i not in busy]
            indexes = list(free[:missing])
        for ix in indexes:
            pod = self._create(ix)
            if pod is None:
                break
            active.append(pod)
        return active, ready

    def _create(self, index: int | None) -> dict[str, Any] | None:
        template = self.spec.get("template") or {}
        labels = {
            "batch.kubernetes.io/controller-uid": self.uid,
            "batch.kubernetes.io/job-name": self.name,
            "controller-uid": self.uid,
            "job-name": self.name,
        }
        labels = {k: v for k, v in labels.items() if k not in ((template.get("metadata") or {}).get("labels") or {})}
        annotations: dict[str, str] = {}
        prefix = pt.name_prefix(self.name)
        if index is not None:
            annotations[INDEX_KEY] = str(index)
            labels[INDEX_KEY] = str(index)
            prefix = f"{self.name}-{index}-"
            template = _with_index(template, self.name, index)
        pod = pt.new_pod(template, self.job, prefix=prefix, labels=labels, annotations=annotations)
        try:
            created = pt.create_generated(self.store, pod)
        except APIError as e:
            self.c.recorder.record(
                self.job, "Warning", "FailedCreate", f"Error creating: {e.message}", component=COMPONENT
            )
            return None
        self.c.recorder.record(
            self.job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", component=COMPONENT
        )
        return created

    def _delete(self, pod: dict[str, Any]) -> bool:
        meta = pod["metadata"]
        self.tally.deleting.add(meta["uid"])
        try:
            self.store.delete(POD, meta["namespace"], meta["name"])
        except APIError as e:
            if e.code != 404:
                self.c.recorder.record(
                    self.job, "Warning", "FailedDelete", f"Error deleting: {e.message}", component=COMPONENT
                )
                return False
        self.c.recorder.record(
            self.job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}", component=COMPONENT
        )
        return True

    # --- limits ----------------------------------------------------------------------------

    def _past_backoff_on_failure(self, active: list[dict[str, Any]]) -> bool:
        template_spec = (self.spec.get("template") or {}).get("spec") or {}
        if template_spec.get("restartPolicy") != "OnFailure":
            return False
        total = sum(pt.restarts(p) for p in active if pt.phase(p) in ("Running", "Pending"))
        limit = _int(self.spec.get("backoffLimit"), 6)
        return total > 0 if limit == 0 else total >= limit

    def _started(self) -> str | datetime | None:
        """When the Job started: precise if this controller started it, else its `status.startTime`."""
        stamp = self.status.get("startTime")
        if self.tally.started is not None and stamp == self.clock.stamp(self.tally.started):
            return self.tally.started
        return stamp

    def _past_deadline(self, suspended: bool) -> bool:
        deadline = self.spec.get("activeDeadlineSeconds")
        start = self._started()
        if deadline is None or not start or suspended:
            return False
        return simtime.elapsed(self.clock, start) >= _int(deadline, 0)

    def _backoff_left(self) -> float:
        failures = self.tally.failures_since_success
        if failures == 0 or self.tally.last_failure is None:
            return 0.0
        delay = BACKOFF_INITIAL
        for _ in range(1, failures):
            delay *= 2
            if delay >= BACKOFF_MAX:
                delay = BACKOFF_MAX
                break
        return simtime.left(self.clock, self.tally.last_failure, delay)


# --- helpers ---------------------------------------------------------------------------------


def _finished(job: dict[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def _get(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def _has(conditions: list[dict[str, Any]], type_: str) -> bool:
    c = _get(conditions, type_)
    return c is not None and c.get("status") == "True"


def _condition(type_: str, reason: str, message: str, now: str, status: str = "True") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _ensure(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    create: bool = True,
) -> bool:
    """1.32's ensureJobConditionStatus: add or flip a condition; True when anything changed."""
    cur = _get(conditions, type_)
    if cur is None:
        if not create or status == "False":
            return False
        conditions.append(_condition(type_, reason, message, now, status))
        return True
    if cur.get("status") == status and cur.get("reason") == reason and cur.get("message") == message:
        return False
    if cur.get("status") != status:
        cur["lastTransitionTime"] = now
    cur.update({"status": status, "lastProbeTime": now, "reason": reason, "message": message})
    return True


def _index(pod: dict[str, Any]) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    if value is None or not str(value).isdigit():
        return None
    return int(value)


def _with_index(template: dict[str, Any], job: str, index: int) -> dict[str, Any]:
    """The template for one completion index: its hostname and JOB_COMPLETION_INDEX in every container."""
    spec = dict(template.get("spec") or {})
    spec.setdefault("hostname", f"{job}-{index}")
    env_var = {
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}},
    }
    for group in ("initContainers", "containers"):
        if not spec.get(group):
            continue
        containers = []
        for c in spec[group]:
            env = list(c.get("env") or ())
            if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
                env.append(env_var)
            containers.append({**c, "env": env})
        spec[group] = containers
    return {**template, "spec": spec}


def _parse_indexes(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _format_indexes(indexes: list[int]) -> str:
    """`0-2,4`: how `status.completedIndexes` writes sorted indexes."""
    parts: list[str] = []
    i = 0
    while i < len(indexes):
        j = i
        while j + 1 < len(indexes) and indexes[j + 1] == indexes[j] + 1:
            j += 1
        parts.append(str(indexes[i]) if i == j else f"{indexes[i]}-{indexes[j]}")
        i = j + 1
    return ",".join(parts)


def _int(value: Any, default: int) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
