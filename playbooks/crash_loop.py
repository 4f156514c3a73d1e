"""crash-loop: containers that keep dying, and what their last log lines say killed them.

A container counts when it waits in CrashLoopBackOff, when it runs again (not ready yet)
after failing more than once, when it has terminated with a non-zero code (a bare Pod that
will not restart), or when it runs again after being OOMKilled. Its last terminated state (exit code, reason) and the log of that instance
(`previous`) are read, and the log's last telling line is classified (playbooks.crash_causes):
a missing setting, a module that is not there, a service it cannot reach, a permission it
lacks. OOMKilled gets a fix: the memory limit doubled, flagged risky. Pods of Jobs are left
to `job-failed` unless they crash-loop inside a Job that is still running. Findings go on
the top-level workload, one per cause; `playbooks.links` then points them at the finding of
another playbook that explains the cause (a missing dependency, a missing env entry).
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from diagnostics import quantity
from diagnostics.findings import Evidence, Finding, Fix, ObjectRef, Severity, finding_id
from diagnostics.fixes import TEMPLATE_PATH, containers, template_fixes
from diagnostics.logs import Logs
from playbooks import crash_causes
from playbooks.base import Context
from playbooks.crash_causes import Cause
from playbooks.evidence import owner_ref, pod_events, top_level_groups

ID = "crash-loop"
READS_PER_CONTAINER = 3  # log reads per container of a workload: its pods share a template, a few tell the story
SHOWN_PODS = 3
MI = Decimal(2**20)


@dataclass(frozen=True, slots=True)
class Failing:
    """One container that keeps failing, and the terminated state that tells how."""

    pod: dict[str, Any]
    container: str
    terminated: dict[str, Any]  # the last terminated state ({} when the kubelet kept none)
    waiting: dict[str, Any] | None
    restarts: int
    previous: bool  # its log is the previous instance's (the current one is waiting or running again)
    running: bool  # it runs again (after an OOM kill): a warning, not yet a loop

    @property
    def where(self) -> str:
        meta = self.pod["metadata"]
        return f"container {self.container} of Pod {meta.get('namespace')}/{meta['name']}"


def failing_containers(pod: dict[str, Any]) -> list[Failing]:
    """The pod's containers that crash-loop, exited with an error, or were OOMKilled and restarted."""
    status = pod.get("status") or {}
    out: list[Failing] = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        waiting, now = state.get("waiting"), state.get("terminated")
        restarts = int(cs.get("restartCount") or 0)
        name = str(cs.get("name", ""))
        if waiting and waiting.get("reason") == "CrashLoopBackOff":
            out.append(Failing(pod, name, last, waiting, restarts, previous=True, running=False))
        elif now and now.get("exitCode") not in (0, None):
            out.append(Failing(pod, name, now, None, restarts, previous=False, running=False))
        elif state.get("running") is not None and restarts and last.get("reason") == "OOMKilled":
            out.append(Failing(pod, name, last, None, restarts, previous=True, running=True))
        elif state.get("running") is not None and restarts >= 2 and not cs.get("ready") and last.get("exitCode"):
            # between two crashes a looping container runs for a moment: not ready yet, it has not recovered
            out.append(Failing(pod, name, last, None, restarts, previous=True, running=False))
    return out


def _job_failed(job: dict[str, Any]) -> bool:
    conds = (job.get("status") or {}).get("conditions") or ()
    return any(c.get("type") in ("Failed", "FailureTarget") and c.get("status") == "True" for c in conds)


def _counts(ctx: Context, pod: dict[str, Any], failing: list[Failing]) -> list[Failing]:
    """Job pods are job-failed's, except those crash-looping in a Job that has not failed yet."""
    if not failing:
        return failing  # a healthy pod (most of a big cluster): no owners to look up
    top = ctx.snapshot.top_owner(pod)
    if top.get("kind") not in ("Job", "CronJob"):
        return failing
    job = next((o for o in ctx.snapshot.owner_chain(pod) if o.get("kind") == "Job"), None)
    if job is not None and _job_failed(job):
        return []
    return [f for f in failing if f.waiting is not None]


def proposed_limit(limit: Decimal) -> Decimal:
    """Twice the limit, rounded up to a step people write: 64Mi up to 1Gi, 256Mi up to 4Gi, then 1Gi."""
    doubled = limit * 2
    step = 64 * MI if doubled <= 1024 * MI else 256 * MI if doubled <= 4096 * MI else 1024 * MI
    return (doubled / step).to_integral_value(rounding=ROUND_CEILING) * step


def template_container(workload: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The named container of the workload's pod template, read without touching the shared object."""
    cur: Any = workload
    for key in TEMPLATE_PATH.get(str(workload.get("kind")), ("spec", "template", "spec")):
        cur = (cur or {}).get(key)
    spec = cur or {}
    for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        if c.get("name") == name:
            return dict(c)
    return None


def _terminated_text(f: Failing) -> str:
    t = f.terminated
    if not t:
        return f"no terminated state recorded; restarts: {f.restarts}"
    return (
        f"Last terminated: {t.get('reason') or 'Error'}, exit code {t.get('exitCode', '?')}"
        + (f", finished {t['finishedAt']}" if t.get("finishedAt") else "")
        + f"; restarts: {f.restarts}"
    )


class CrashLoop:
    id = ID
    title = "Containers that keep crashing, and why their logs say they did"
    kinds = ("Pod", "Event", "Job")
    uses_repo = True  # the OOM fix edits the manifest too
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        snap = ctx.snapshot
        by_pod = {id(p): _counts(ctx, p, failing_containers(p)) for p in snap.list("Pod")}
        pods = [p for p in snap.list("Pod") if by_pod[id(p)]]
        groups = [
            (owner, [f for p in members for f in by_pod[id(p)]])
            for owner, members in top_level_groups(snap, pods)
            if ctx.in_scope(owner_ref(owner))
        ]
        diagnosed = await asyncio.gather(*(self._read(ctx, failing) for _, failing in groups))
        findings: list[Finding] = []
        for (owner, _), causes in zip(groups, diagnosed, strict=True):
            findings += self._findings(ctx, owner, causes)
        return findings

    # --- reading ---------------------------------------------------------------------------

    async def _read(self, ctx: Context, failing: list[Failing]) -> list[tuple[Failing, Cause, Logs | None]]:
        """Each failing container with its cause; the logs of the first few (one per pod where possible)."""
        chosen: list[Failing] = []
        read_pods: dict[str, set[int]] = {}
        for f in failing:  # per container, a few different pods: one pod's instances say the same
            pods = read_pods.setdefault(f.container, set())
            if id(f.pod) not in pods and len(pods) < READS_PER_CONTAINER:
                chosen.append(f)
                pods.add(id(f.pod))
        reads = await asyncio.gather(*(self._logs(ctx, f) for f in chosen))
        logs_of = {id(f): logs for f, logs in zip(chosen, reads, strict=True)}
        out: list[tuple[Failing, Cause, Logs | None]] = []
        by_container: dict[str, Cause] = {}
        for f in failing:
            logs = logs_of.get(id(f))
            if f.terminated.get("reason") == "OOMKilled":
                cause = crash_causes.from_state(f.container, f.terminated)
            elif logs is not None and logs.read:
                cause = crash_causes.from_logs(logs.lines) or crash_causes.from_state(f.container, f.terminated)
            else:  # not read: the same template fails the same way as the pod that was read
                cause = by_container.get(f.container) or crash_causes.from_state(f.container, f.terminated)
            by_container.setdefault(f.container, cause)
            out.append((f, cause, logs))
        return out

    async def _logs(self, ctx: Context, f: Failing) -> Logs | None:
        if ctx.logs is None:
            return None
        meta = f.pod["metadata"]
        return await ctx.logs.tail(
            str(meta.get("namespace") or ""), str(meta["name"]), f.container, previous=f.previous
        )

    # --- reporting -------------------------------------------------------------------------

    def _findings(
        self, ctx: Context, owner: dict[str, Any], diagnosed: list[tuple[Failing, Cause, Logs | None]]
    ) -> list[Finding]:
        ref = owner_ref(owner)
        by_cause: dict[str, list[tuple[Failing, Cause, Logs | None]]] = {}
        for item in diagnosed:
            by_cause.setdefault(item[1].key, []).append(item)
        return [self._finding(ctx, owner, ref, items) for items in by_cause.values()]

    def _finding(
        self, ctx: Context, owner: dict[str, Any], ref: ObjectRef, items: list[tuple[Failing, Cause, Logs | None]]
    ) -> Finding:
        failing = [f for f, _, _ in items]
        cause = next((c for _, c, logs in items if c.line), items[0][1])
        pods = list(dict.fromkeys(f.pod["metadata"]["name"] for f in failing))
        names = sorted({f.container for f in failing})
        looping = [f for f in failing if not f.running]
        severity: Severity = "error" if looping else "warning"
        first = failing[0]
        state = crash_causes.exit_meaning(first.terminated) or "no terminated state recorded"
        what = (
            "are in CrashLoopBackOff"
            if any(f.waiting for f in failing)
            else "keep failing"
            if looping
            else "run again after being OOMKilled"
        )
        containers_text = ", ".join(names)
        explanation = (
            f"{len(pods)} pod(s) of {ref} {what}: container {containers_text} {cause.summary()} "
            f"({state}, {first.restarts} restart(s))."
        )
        if cause.line:
            explanation += " " + crash_causes.said(cause.line)
        explanation += " " + cause.meaning()
        fixes: tuple[Fix, ...] = ()
        fid = finding_id(ID, ref, cause.key)
        if cause.kind == "oom":
            fixes, note = self._oom_fix(ctx, owner, cause.detail, fid)
            explanation += " " + note
        return Finding(
            id=fid,
            playbook=ID,
            severity=severity,
            object=ref,
            title=f"Container {containers_text} {'crash-loops' if looping else 'restarts'}: {cause.summary()}",
            explanation=explanation,
            evidence=tuple(self._evidence(ctx, items, pods)),
            fixes=fixes,
            cause=cause.key,
        )

    def _evidence(
        self, ctx: Context, items: list[tuple[Failing, Cause, Logs | None]], pods: list[str]
    ) -> list[Evidence]:
        ev: list[Evidence] = []
        shown: set[str] = set()
        for f, cause, logs in items:
            pod_name = f.pod["metadata"]["name"]
            if pod_name in shown or len(shown) >= SHOWN_PODS:
                continue
            shown.add(pod_name)
            if len(shown) > 1:  # the other pods fail alike: their state only, the log was quoted once
                ev.append(Evidence("condition", _terminated_text(f), f.where))
                continue
            if f.waiting:
                message = f.waiting.get("message", "")
                ev.append(Evidence("condition", f"CrashLoopBackOff: {message}".rstrip(": "), f.where))
            if f.terminated:
                ev.append(Evidence("condition", _terminated_text(f), f.where))
            source = f"logs of {f.where}" + (" (previous instance)" if f.previous else "")
            if logs is None:
                if ctx.logs is None and len(shown) == 1:
                    ev.append(Evidence("log", "logs not read: no cluster to ask (snapshot only)", source))
            elif not logs.read:
                ev.append(Evidence("log", f"logs not read: {logs.problem}", source))
            elif not logs.lines:
                ev.append(Evidence("log", "the log is empty: the program printed nothing before it exited", source))
            else:
                tail = crash_causes.tail_text(logs.lines)
                ev.append(Evidence("log", tail, source))
                if cause.line and cause.line not in tail:
                    ev.append(Evidence("log", cause.line, source))
            ev += [e for e in pod_events(ctx.snapshot, f.pod) if "BackOff" in e.text or "OOM" in e.text][-1:]
        more = f" (and {len(pods) - SHOWN_PODS} more)" if len(pods) > SHOWN_PODS else ""
        ev.append(Evidence("object", f"{len(pods)} pod(s): {', '.join(pods[:SHOWN_PODS])}{more}", f"{len(pods)} pods"))
        return ev

    def _oom_fix(self, ctx: Context, owner: dict[str, Any], container: str, key: str) -> tuple[tuple[Fix, ...], str]:
        c = template_container(owner, container)
        limit_text = (((c or {}).get("resources") or {}).get("limits") or {}).get("memory")
        if limit_text is None:
            return (), (
                f"Container {container} has no memory limit in the template, so the node (or a LimitRange default) "
                "killed it: give it a memory request and limit that match what it uses."
            )
        try:
            limit = quantity.parse(limit_text)
        except ValueError:
            return (), f"Its memory limit {limit_text!r} is not a quantity pitstop can read; fix the manifest first."
        new = quantity.memory(proposed_limit(limit))

        def raise_limit(ps: MutableMapping[str, Any]) -> None:
            for pc in containers(ps):
                if pc.get("name") == container:
                    resources = pc.setdefault("resources", {})
                    resources.setdefault("limits", {})["memory"] = new

        fixes = template_fixes(
            owner,
            raise_limit,
            title=f"Raise the memory limit of container {container} from {limit_text} to {new}",
            risk="high",
            notes=(
                f"Risky: {new} is twice the limit it was killed at ({limit_text}), rounded up; pitstop cannot see "
                "the real peak. A leak only takes longer to reach the new limit, and nodes must have the memory: "
                "watch `kubectl top pod` and size the request and limit from it."
            ),
            repo=ctx.repo,
            key=key,
        )
        return fixes, f"It was killed at its limit of {limit_text}; the fix raises it to {new}."


PLAYBOOK = CrashLoop()
