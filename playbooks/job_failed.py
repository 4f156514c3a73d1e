"""job-failed: Jobs that gave up, and CronJobs whose last run did.

A Job counts once it carries a `Failed` condition (or the `FailureTarget` that precedes it):
its reason and message (BackoffLimitExceeded, DeadlineExceeded…), how many pods failed, the
last log lines of its newest failed pods (the previous container instance too, for
`OnFailure` restarts), classified like a crash (playbooks.crash_causes). A CronJob is
reported when its most recent finished run failed; a later success clears it. Pods a Job
deleted when it failed leave no logs: the finding says so and relies on the Job's events.

A failed Job has no fix of its own: the fix is the cause's, which another playbook finds
(secret-missing, env-drift, migration-conflict); `playbooks.links` points the finding at it.
The finding's `cause` is `REASON[;CAUSE-KEY][;migrate]`, the last part when the Job runs
database migrations.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from diagnostics.findings import Evidence, Finding, ObjectRef, finding_id
from diagnostics.logs import Logs
from playbooks import crash_causes
from playbooks.base import Context
from playbooks.crash_causes import Cause
from playbooks.evidence import owner_ref, pod_events, waiting_states

ID = "job-failed"
PODS_READ = 2  # the newest failed pods: the retries of one template fail alike
MIGRATION_MARKER = "migrate"
_MIGRATION_COMMAND = re.compile(r"\bmigrate\b|\balembic\b.*\bupgrade\b|\bdb upgrade\b|\bdb:migrate\b|\bflyway\b")


def failed_condition(job: dict[str, Any]) -> dict[str, Any] | None:
    """The Job's Failed condition (or the FailureTarget that comes first), if it has failed."""
    conds = [c for c in (job.get("status") or {}).get("conditions") or () if c.get("status") == "True"]
    return next((c for c in conds if c.get("type") == "Failed"), None) or next(
        (c for c in conds if c.get("type") == "FailureTarget"), None
    )


def _complete(job: dict[str, Any]) -> bool:
    conds = (job.get("status") or {}).get("conditions") or ()
    return any(c.get("type") in ("Complete", "SuccessCriteriaMet") and c.get("status") == "True" for c in conds)


def _started(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("startTime") or obj["metadata"].get("creationTimestamp") or "")


def _pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    return ((job.get("spec") or {}).get("template") or {}).get("spec") or {}


def runs_migrations(job: dict[str, Any]) -> bool:
    """The Job applies database migrations (Django, Alembic, Flask-Migrate, Rails, Flyway)."""
    for c in _pod_spec(job).get("containers") or ():
        words = " ".join(str(w) for w in [*(c.get("command") or ()), *(c.get("args") or ())])
        if _MIGRATION_COMMAND.search(words):
            return True
    return "migrat" in str(job["metadata"].get("name", ""))


def _failed_containers(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(container, terminated state, previous) for each failed instance the pod still shows."""
    status = pod.get("status") or {}
    out = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        name = str(cs.get("name", ""))
        now = (cs.get("state") or {}).get("terminated") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if now.get("exitCode") not in (0, None):
            out.append((name, now, False))
        if last.get("exitCode") not in (0, None):
            out.append((name, last, True))
    return out


def _better(have: Cause | None, new: Cause | None) -> Cause | None:
    """The first cause read, unless it is only an exit code and the new one names what went wrong."""
    if have is None or (have.kind == "exit" and new is not None and new.kind != "exit"):
        return new or have
    return have


class JobFailed:
    id = ID
    title = "Jobs that failed, and CronJobs whose last run failed"
    kinds = ("Job", "CronJob", "Pod", "Event")
    uses_repo = False
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        snap = ctx.snapshot
        targets: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = []  # (report on, job, failed runs)
        for job in snap.list("Job"):
            owner = snap.owner(job)
            if failed_condition(job) is None or (owner is not None and owner.get("kind") == "CronJob"):
                continue
            targets.append((job, job, [job]))
        for cj in snap.list("CronJob"):
            uid = cj["metadata"].get("uid")
            runs = [
                j
                for j in snap.list("Job", cj["metadata"].get("namespace"))
                if (o := snap.owner(j)) is not None and o.get("kind") == "CronJob" and o["metadata"].get("uid") == uid
            ]
            finished = sorted((j for j in runs if failed_condition(j) or _complete(j)), key=_started)
            failed: list[dict[str, Any]] = []
            for j in reversed(finished):  # the failures since the last success, newest first
                if failed_condition(j) is None:
                    break
                failed.append(j)
            if failed:
                targets.append((cj, failed[0], failed))
        targets = [t for t in targets if ctx.in_scope(owner_ref(t[0]))]
        return list(await asyncio.gather(*(self._diagnose(ctx, *t) for t in targets)))

    async def _diagnose(
        self, ctx: Context, target: dict[str, Any], job: dict[str, Any], failed_runs: list[dict[str, Any]]
    ) -> Finding:
        snap = ctx.snapshot
        ref = owner_ref(target)
        jref = owner_ref(job)
        ns = jref.namespace or "default"
        cond = failed_condition(job) or {}
        reason = str(cond.get("reason") or "Failed")
        message = str(cond.get("message") or "")
        status = job.get("status") or {}
        pods = sorted(snap.pods_of(job), key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
        failed_pods = [p for p in pods if _failed_containers(p)][-PODS_READ:]
        reads = await asyncio.gather(*(self._logs(ctx, p) for p in failed_pods))
        evidence: list[Evidence] = [
            Evidence("condition", f"Failed=True ({reason}): {message}".rstrip(": "), f"Job {ns}/{jref.name}"),
            Evidence(
                "object",
                f"pods: {status.get('failed', 0)} failed, {status.get('succeeded', 0)} succeeded; "
                f"backoffLimit {(job.get('spec') or {}).get('backoffLimit', 6)}"
                + (
                    f", activeDeadlineSeconds {job['spec']['activeDeadlineSeconds']}"
                    if (job.get("spec") or {}).get("activeDeadlineSeconds") is not None
                    else ""
                ),
                f"Job {ns}/{jref.name}",
            ),
        ]
        if target is not job:
            names = ", ".join(j["metadata"]["name"] for j in failed_runs[:5])
            evidence.append(
                Evidence("object", f"{len(failed_runs)} run(s) failed since the last success: {names}", str(ref))
            )
        evidence += [e for e in pod_events(snap, job) if e.text.startswith("Warning")][-2:]
        cause: Cause | None = None
        for pod, logs in zip(reversed(failed_pods), reversed(reads), strict=True):  # newest first
            found, ev = self._pod_evidence(pod, logs, ctx.logs is None)
            quoted = {e.text for e in evidence if e.kind == "log"}
            evidence += [e for e in ev if e.kind != "log" or e.text not in quoted]  # retries print alike: quote once
            cause = _better(cause, found)
        never_started = [(p, c, w) for p in pods for c, w in waiting_states(p) if w.get("reason") != "PodInitializing"]
        for p, c, w in never_started[-1:]:
            evidence.append(
                Evidence(
                    "condition",
                    f"{w.get('reason')}: {w.get('message', '')}".rstrip(": "),
                    f"container {c} of Pod {ns}/{p['metadata']['name']}",
                )
            )
        if not pods:
            evidence.append(
                Evidence(
                    "object",
                    "its pods are gone (the Job controller deletes running pods when a Job fails, and TTLs remove "
                    "finished ones): no logs to read",
                    f"Job {ns}/{jref.name}",
                )
            )
        migration = runs_migrations(job)
        tokens = [reason, *([cause.key] if cause else []), *([MIGRATION_MARKER] if migration else [])]
        return Finding(
            id=finding_id(ID, ref, ";".join(tokens)),
            playbook=ID,
            severity="error",
            object=ref,
            title=self._title(ref, jref, reason, cause),
            explanation=self._explanation(ref, jref, reason, message, cause, migration, bool(pods), never_started),
            evidence=tuple(evidence),
            cause=";".join(tokens),
        )

    async def _logs(self, ctx: Context, pod: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool, Logs | None]]:
        meta = pod["metadata"]
        ns, name = str(meta.get("namespace") or ""), str(meta["name"])
        failed = _failed_containers(pod)
        if ctx.logs is None:
            return [(c, t, prev, None) for c, t, prev in failed]
        reads = await asyncio.gather(*(ctx.logs.tail(ns, name, c, previous=prev) for c, _, prev in failed))
        return [(c, t, prev, logs) for (c, t, prev), logs in zip(failed, reads, strict=True)]

    def _pod_evidence(
        self, pod: dict[str, Any], reads: list[tuple[str, dict[str, Any], bool, Logs | None]], offline: bool
    ) -> tuple[Cause | None, list[Evidence]]:
        meta = pod["metadata"]
        ev: list[Evidence] = []
        cause: Cause | None = None
        for container, terminated, previous, logs in reads:
            where = f"container {container} of Pod {meta.get('namespace')}/{meta['name']}"
            meaning = crash_causes.exit_meaning(terminated)
            ev.append(
                Evidence(
                    "condition",
                    f"{'Previous instance terminated' if previous else 'Terminated'}: "
                    f"{terminated.get('reason') or 'Error'}, {meaning}",
                    where,
                )
            )
            source = f"logs of {where}" + (" (previous instance)" if previous else "")
            found: Cause | None = None
            if terminated.get("reason") == "OOMKilled":
                found = crash_causes.from_state(container, terminated)
            if logs is None:
                if offline:
                    ev.append(Evidence("log", "logs not read: no cluster to ask (snapshot only)", source))
            elif not logs.read:
                ev.append(Evidence("log", f"logs not read: {logs.problem}", source))
            elif not logs.lines:
                ev.append(Evidence("log", "the log is empty: the program printed nothing before it exited", source))
            else:
                found = found or crash_causes.from_logs(logs.lines)
                tail = crash_causes.tail_text(logs.lines)
                ev.append(Evidence("log", tail, source))
                if found is not None and found.line and found.line not in tail:
                    ev.append(Evidence("log", found.line, source))
            cause = _better(cause, found or crash_causes.from_state(container, terminated))
        return cause, ev

    def _title(self, ref: ObjectRef, jref: ObjectRef, reason: str, cause: Cause | None) -> str:
        why = f": {cause.summary()}" if cause is not None and cause.kind != "exit" else ""
        if ref.kind == "CronJob":
            return f"Last run of CronJob {ref.name} failed ({reason}, Job {jref.name}){why}"
        return f"Job {jref.name} failed ({reason}){why}"

    def _explanation(
        self,
        ref: ObjectRef,
        jref: ObjectRef,
        reason: str,
        message: str,
        cause: Cause | None,
        migration: bool,
        has_pods: bool,
        never_started: list[tuple[dict[str, Any], str, dict[str, Any]]],
    ) -> str:
        text = f"Job {jref.namespace}/{jref.name} failed with {reason}" + (f" ({message})." if message else ".")
        if reason == "DeadlineExceeded":
            text += " It ran longer than its activeDeadlineSeconds, and its running pods were stopped."
        elif reason == "BackoffLimitExceeded":
            text += " Its pods failed more times than its backoffLimit allows, so it stopped retrying."
        if cause is not None and cause.line:
            text += " " + crash_causes.said(cause.line) + " " + cause.meaning()
        elif cause is not None:
            text += f" Its container {cause.summary()}."
        elif never_started:
            _, container, waiting = never_started[-1]
            text += f" Its container {container} never started ({waiting.get('reason')})."
        elif not has_pods:
            text += " Its pods are gone, so the cause has to come from the Job's events or its template."
        if migration:
            text += " It runs the database migrations: the schema the new release expects is not there yet."
        if ref.kind == "CronJob":
            text += (
                f" Once the cause is fixed, the next scheduled run tries again; to run it now: "
                f"kubectl -n {ref.namespace} create job --from=cronjob/{ref.name} {ref.name}-manual."
            )
        else:
            text += (
                " A failed Job does not run again by itself: once the cause is fixed, delete it and create it anew "
                f"(kubectl -n {jref.namespace} delete job {jref.name}, then apply its manifest)."
            )
        return text


PLAYBOOK = JobFailed()
