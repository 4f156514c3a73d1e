"""The CronJob controller (1.32's cronjob v2): Jobs on schedule, concurrency policies, history limits.

Schedules run on simulated time (`simtime.Timeline`): real time up to the sandbox's start,
then `clock.speed` times faster. A CronJob seeded 26 hours in the past therefore sees the
schedules it missed and, as on a cluster, runs only the most recent one (when still
within `startingDeadlineSeconds`, if set). Jobs are named `<cronjob>-<scheduled minutes
since the epoch>`; `status.lastScheduleTime` and the Job's scheduled-timestamp annotation
carry the real time the run corresponds to, so ages read right in kubectl.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox import cron
from sandbox.clock import parse_stamp
from sandbox.controllers import podtemplate as pt
from sandbox.controllers.base import Context, Controller, Key
from sandbox.controllers.simtime import Timeline
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind

CRONJOB: ResourceType = by_kind("batch/v1", "CronJob")  # type: ignore[assignment]
JOB: ResourceType = by_kind("batch/v1", "Job")  # type: ignore[assignment]
COMPONENT = "cronjob-controller"
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_DELTA = 0.1  # seconds past the schedule at which the controller wakes, as nextScheduleDelta


class CronJobController(Controller):
    name = "cronjob"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.timeline = Timeline(self.clock)
        self._last: dict[str, datetime] = {}  # cronjob uid -> simulated time of the last run it started

    # --- watching --------------------------------------------------------------------------

    def initial_keys(self) -> list[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(CRONJOB)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is JOB:
            ref = pt.controller_of(obj) or pt.controller_of(old)
            if ref is None or ref.get("kind") != "CronJob":
                return
            if type_ == "MODIFIED" and old is not None and _finished(old) == _finished(obj):
                return  # only creation, completion and deletion matter here
            self.enqueue((obj["metadata"]["namespace"], ref["name"]))
        elif rt is CRONJOB:
            meta = obj["metadata"]
            if type_ == "DELETED":
                self._last.pop(meta.get("uid", ""), None)
            elif old is None or old["metadata"].get("generation") != meta.get("generation"):
                self.enqueue((meta["namespace"], meta["name"]))

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        ns, name = key
        cj = self.store.get(CRONJOB, ns, name)
        if cj is None:
            return
        jobs = pt.owned(self.store, cj, "Job")
        status = dict(cj.get("status") or {})
        changed = self._track_jobs(cj, jobs, status)
        wait: float | None = None
        if not cj["metadata"].get("deletionTimestamp"):
            wait, started = self._schedule(cj, status)
            changed |= started
        self._cleanup(cj, status)
        if changed:
            self._write_status(cj, status)
        if wait is not None:
            self.requeue_after(key, max(wait, 0.0) + NEXT_DELTA)

    def _track_jobs(self, cj: dict[str, Any], jobs: list[dict[str, Any]], status: dict[str, Any]) -> bool:
        changed = False
        active = list(status.get("active") or [])
        active_uids = {r.get("uid") for r in active}
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        for j in jobs:
            uid = j["metadata"]["uid"]
            found = uid in active_uids
            finished = _finished(j)
            if not found and not finished:
                self.recorder.record(
                    cj,
                    "Warning",
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {j['metadata']['name']}",
                    component=COMPONENT,
                )
            elif found and finished:
                active = [r for r in active if r.get("uid") != uid]
                active_uids.discard(uid)
                self.recorder.record(
                    cj,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {j['metadata']['name']}, condition: {finished}",
                    component=COMPONENT,
                )
                changed = True
            if finished == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (not last or parse_stamp(done) > parse_stamp(last)):
                    status["lastSuccessfulTime"] = done
                    changed = True
        for ref in list(active):
            if ref.get("uid") in by_uid:
                continue
            if self.store.get(JOB, ref.get("namespace") or cj["metadata"]["namespace"], ref.get("name", "")) is None:
                self.recorder.record(
                    cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}", component=COMPONENT
                )
                active = [r for r in active if r.get("uid") != ref.get("uid")]
                changed = True
        if changed:
            _set_active(status, active)
        return changed

    def _schedule(self, cj: dict[str, Any], status: dict[str, Any]) -> tuple[float | None, bool]:
        """Start the Job due now, if any; returns (simulated seconds until the next wake-up, whether one started)."""
        spec = cj.get("spec") or {}
        zone = spec.get("timeZone")
        if zone:
            try:
                cron.load_zone(zone)
            except cron.CronError as e:
                self.recorder.record(
                    cj, "Warning", "UnknownTimeZone", f"invalid timeZone: {zone!r}: {e}", component=COMPONENT
                )
                return None, False
        if spec.get("suspend"):
            return None, False
        text = str(spec.get("schedule") or "")
        if "TZ" in text:
            self.recorder.record(
                cj,
                "Warning",
                "UnsupportedSchedule",
                f"CRON_TZ or TZ used in schedule {text!r} is not officially supported, see "
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                component=COMPONENT,
            )
        try:
            sched = cron.parse(text, zone)
        except cron.CronError as e:
            self.recorder.record(
                cj, "Warning", "UnparseableSchedule", f"unparseable schedule: {text!r} : {e}", component=COMPONENT
            )
            return None, False
        now = self.timeline.now()
        try:
            _, recent, many = self._most_recent(cj, status, sched, now, with_deadline=True)
        except cron.CronError as e:
            self.recorder.record(
                cj, "Warning", "InvalidSchedule", f"invalid schedule: {text} : {e}", component=COMPONENT
            )
            return None, False
        if recent is None or recent > now:
            return self._until_next(cj, status, sched, now), False
        if many:
            self.recorder.record(
                cj,
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                component=COMPONENT,
            )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and recent + timedelta(seconds=int(deadline)) < now:
            when = self.timeline.to_real(recent).astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            self.recorder.record(
                cj, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {when}", component=COMPONENT
            )
            return self._until_next(cj, status, sched, now), False
        job_name = f"{cj['metadata']['name']}-{int(recent.timestamp()) // 60}"
        uid = cj["metadata"]["uid"]
        if any(r.get("name") == job_name for r in status.get("active") or ()) or self._last.get(uid) == recent:
            return self._until_next(cj, status, sched, now), False
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.record(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
                component=COMPONENT,
            )
            return self._until_next(cj, status, sched, now), False
        if policy == "Replace":
            for ref in list(status.get("active") or ()):
                job = self.store.get(JOB, ref.get("namespace") or cj["metadata"]["namespace"], ref.get("name", ""))
                if job is not None and not self._delete_job(cj, job):
                    return self._until_next(cj, status, sched, now), False
                _set_active(status, [r for r in status.get("active") or () if r.get("uid") != ref.get("uid")])
        job = self._job_from_template(cj, job_name, recent, zone)
        try:
            created = self.store.create(JOB, job)
        except APIError as e:
            if e.code != 409:
                self.recorder.record(
                    cj, "Warning", "FailedCreate", f"Error creating job: {e.message}", component=COMPONENT
                )
                return self._until_next(cj, status, sched, now), False
            created = self.store.get(JOB, cj["metadata"]["namespace"], job_name)
            if created is None or not pt.controlled_by(created, uid):
                return None, False
            if any(r.get("uid") == created["metadata"]["uid"] for r in status.get("active") or ()):
                return None, False
        else:
            self.recorder.record(cj, "Normal", "SuccessfulCreate", f"Created job {job_name}", component=COMPONENT)
        _set_active(status, [*(status.get("active") or []), _ref(created)])
        self._last[uid] = recent
        status["lastScheduleTime"] = self.clock.stamp(self.timeline.to_real(recent))
        return self._until_next(cj, status, sched, now), True

    def _most_recent(
        self, cj: dict[str, Any], status: dict[str, Any], sched: cron.Schedule, now: datetime, *, with_deadline: bool
    ) -> tuple[datetime, datetime | None, bool]:
        """1.32's mostRecentScheduleTime: (earliest time considered, the latest missed schedule, whether >100 were missed)."""
        earliest = self._last_schedule(cj, status)
        deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
        if with_deadline and deadline is not None:
            cutoff = now - timedelta(seconds=int(deadline))
            if cutoff > earliest:
                earliest = cutoff
        t1 = sched.next(earliest)
        if now < t1:
            return earliest, None, False
        t2 = sched.next(t1)
        if now < t2:
            return earliest, t1, False
        gap = round((t2 - t1).total_seconds())
        if gap < 1:
            raise cron.CronError("time difference between two schedules is less than 1 second")
        missed = int((now - t1).total_seconds()) // gap + 1
        recent: datetime | None = None
        t = sched.next(t1 + timedelta(seconds=(missed - 2) * gap))
        while t <= now:
            recent = t
            t = sched.next(t)
        return earliest, recent, missed > 100

    def _last_schedule(self, cj: dict[str, Any], status: dict[str, Any]) -> datetime:
        remembered = self._last.get(cj["metadata"]["uid"])
        stamp = status.get("lastScheduleTime")
        if stamp:
            try:
                written = self.timeline.to_sim(parse_stamp(stamp))
            except ValueError:
                written = None
            if written is not None and (
                remembered is None or written > remembered + timedelta(seconds=self.clock.speed + 1)
            ):
                return written  # somebody else set it (or we forgot): trust the object
        if remembered is not None:
            return remembered
        try:
            return parse_stamp(cj["metadata"]["creationTimestamp"])
        except (KeyError, ValueError):
            return self.timeline.now()

    def _until_next(self, cj: dict[str, Any], status: dict[str, Any], sched: cron.Schedule, now: datetime) -> float:
        """1.32's nextScheduleTimeDuration, in simulated seconds."""
        try:
            earliest, recent, _ = self._most_recent(cj, status, sched, now, with_deadline=False)
        except cron.CronError:
            return NEXT_DELTA
        if recent is None:
            recent = earliest if sched.next(earliest) > now else now
        base = recent
        return (sched.next(base) - now).total_seconds()

    def _job_from_template(
        self, cj: dict[str, Any], name: str, scheduled: datetime, zone: str | None
    ) -> dict[str, Any]:
        template = (cj.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        real = self.timeline.to_real(scheduled).replace(microsecond=0)
        try:
            local = real.astimezone(cron.load_zone(zone or ""))
        except cron.CronError:
            local = real.astimezone(UTC)
        stamp = local.isoformat()
        if stamp.endswith("+00:00"):
            stamp = stamp[: -len("+00:00")] + "Z"
        meta: dict[str, Any] = {"name": name, "namespace": cj["metadata"]["namespace"]}
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
        meta["annotations"] = {**(tmeta.get("annotations") or {}), SCHEDULED_AT: stamp}
        meta["ownerReferences"] = [pt.controller_ref(cj)]
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": template.get("spec") or {}}

    # --- history ---------------------------------------------------------------------------

    def _cleanup(self, cj: dict[str, Any], status: dict[str, Any]) -> None:
        spec = cj.get("spec") or {}
        keep_ok, keep_failed = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        if keep_ok is None and keep_failed is None:
            return
        jobs = pt.owned(self.store, cj, "Job")
        succeeded = [j for j in jobs if _finished(j) == "Complete"]
        failed = [j for j in jobs if _finished(j) == "Failed"]
        for group, keep in ((succeeded, keep_ok), (failed, keep_failed)):
            if keep is None or len(group) <= int(keep):
                continue
            group.sort(key=_start_order)
            for job in group[: len(group) - int(keep)]:
                if self._delete_job(cj, job):
                    _set_active(
                        status, [r for r in status.get("active") or () if r.get("uid") != job["metadata"]["uid"]]
                    )

    def _delete_job(self, cj: dict[str, Any], job: dict[str, Any]) -> bool:
        try:
            self.store.delete(JOB, job["metadata"]["namespace"], job["metadata"]["name"], propagation="Background")
        except APIError as e:
            if e.code != 404:
                self.recorder.record(cj, "Warning", "FailedDelete", f"Deleted job: {e.message}", component=COMPONENT)
                return False
        self.recorder.record(
            cj, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}", component=COMPONENT
        )
        return True

    def _write_status(self, cj: dict[str, Any], status: dict[str, Any]) -> None:
        if status == (cj.get("status") or {}):
            return
        meta = cj["metadata"]
        self.store.mutate(
            CRONJOB, meta["namespace"], meta["name"], lambda o: o.__setitem__("status", status), subresource="status"
        )


def _finished(job: dict[str, Any] | None) -> str:
    """The finishing condition's type ("Complete" or "Failed"), or "" while the Job runs."""
    for c in ((job or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


def _ref(job: dict[str, Any]) -> dict[str, Any]:
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "namespace": meta["namespace"],
        "resourceVersion": meta.get("resourceVersion", ""),
        "uid": meta["uid"],
    }


def _set_active(status: dict[str, Any], active: list[dict[str, Any]]) -> None:
    if active:
        status["active"] = active
    else:
        status.pop("active", None)


def _start_order(job: dict[str, Any]) -> tuple[int, str, str]:
    """byJobStartTime: by start time, Jobs that never started last, names breaking ties."""
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, start or "", job["metadata"]["name"])
