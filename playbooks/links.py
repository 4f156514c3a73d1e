"""Links between one run's findings: a crash or a failed Job points at the finding that explains it.

Playbooks run independently, so `crash-loop` and `job-failed` cannot ask the others what
they found. This pass over all the findings of a run fills their `related` ids, and says
so in their explanation, with the findings that explain them:

- a finding of another playbook on the same workload (a missing Secret key, an env entry
  the Job lacks); for a CronJob's failed run, also on the Jobs it started;
- for a program that cannot reach a service, the `dependency-missing` finding about that
  host or naming the workload among those it blocks;
- for a migration Job that failed, the repository's `migration-conflict` findings: a
  conflict stops `migrate` even once everything else is right.

It reads what crash-loop and job-failed put into `cause` (playbooks.crash_causes keys,
and for job-failed `REASON;KEY;migrate`), and of the others only ids, objects and text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from diagnostics.findings import Finding, ObjectRef

CRASH_LOOP = "crash-loop"
JOB_FAILED = "job-failed"
DEPENDENCY_MISSING = "dependency-missing"
MIGRATION_CONFLICT = "migration-conflict"
LINKED = frozenset({CRASH_LOOP, JOB_FAILED})
NEVER_EXPLAINS = frozenset({"readiness", CRASH_LOOP, JOB_FAILED})  # aggregates and effects, not causes
NEVER_STARTED = frozenset({"pod-pending", "image-pull"})  # a container that never ran cannot have crashed
_CRONJOB_RUN = re.compile(r"^(?P<cronjob>.+)-\d+$")  # the CronJob controller names its Jobs NAME-<minutes>


def link(findings: Sequence[Finding]) -> list[Finding]:
    """The findings in the same order, crash-loop and job-failed ones with `related` and their explanation filled."""
    out: list[Finding] = []
    for f in findings:
        if f.playbook not in LINKED:
            out.append(f)
            continue
        explains, also = _explaining(f, findings)
        new = [g for g in (*explains, *also) if g.id not in f.related]
        if not new:  # nothing to add (or linked already: the pass may run again over the same findings)
            out.append(f)
            continue
        text = f.explanation
        if explains:
            text += " Explained by: " + "; ".join(_cite(g) for g in explains) + "."
        if also:
            text += " Also in the way: " + "; ".join(_cite(g) for g in also) + ", which would stop it next."
        related = tuple(dict.fromkeys((*f.related, *(g.id for g in (*explains, *also)))))
        out.append(replace(f, related=related, explanation=text))
    return out


def _cite(g: Finding) -> str:
    return f"{g.playbook} finding {g.id}, {g.title} ({g.object})"


def _tokens(f: Finding) -> list[str]:
    return [t for t in f.cause.split(";") if t]


def _dependency_host(f: Finding) -> str | None:
    for t in _tokens(f):
        if t.startswith("dependency:"):
            detail = t.removeprefix("dependency:")
            host, _, port = detail.rpartition(":")
            return (host if port.isdigit() else detail) or None
    return None


def _is_dependency_failure(f: Finding) -> bool:
    return any(t == "dependency" or t.startswith("dependency:") for t in _tokens(f))


def _same(a: ObjectRef, b: ObjectRef) -> bool:
    return (a.kind, a.namespace or "", a.name) == (b.kind, b.namespace or "", b.name)


def _covers(f: Finding, g: Finding) -> bool:
    """g is about f's workload, or (for a CronJob) about one of the Jobs it started."""
    if _same(f.object, g.object):
        return True
    if (
        f.object.kind == "CronJob"
        and g.object.kind == "Job"
        and (g.object.namespace or "") == (f.object.namespace or "")
    ):
        m = _CRONJOB_RUN.match(g.object.name)
        return m is not None and m["cronjob"] == f.object.name
    return False


def _names(g: Finding, ref: ObjectRef) -> bool:
    """g's text names the workload: how dependency-missing lists the workloads a missing service blocks."""
    texts = [g.explanation, *(e.text for e in g.evidence), *(e.source for e in g.evidence)]
    wanted = (str(ref), f"{ref.kind} {ref.name}", f"{ref.kind.lower()}/{ref.name}")
    return any(w in t for t in texts for w in wanted)


def _about_host(g: Finding, host: str, namespace: str | None) -> bool:
    if (g.object.namespace or namespace) != namespace:
        return False
    parts = re.split(r"[:/\s,=]+", g.cause.removeprefix(f"{DEPENDENCY_MISSING}:"))
    short = host.split(".", 1)[0]  # redis.cache.svc.cluster.local -> redis
    return host in parts or short in parts or g.object.name in (host, short)


def _explaining(f: Finding, findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(the findings that explain f, those that would stop it next)."""
    explains: list[Finding] = []
    also: list[Finding] = []
    dependency = _is_dependency_failure(f)
    host = _dependency_host(f)
    for g in findings:
        if g.playbook in NEVER_EXPLAINS or g.id == f.id:
            continue
        if g.playbook == DEPENDENCY_MISSING:
            if dependency and (
                _covers(f, g) or _names(g, f.object) or (host is not None and _about_host(g, host, f.object.namespace))
            ):
                explains.append(g)
        elif g.playbook == MIGRATION_CONFLICT and f.playbook == JOB_FAILED and "migrate" in _tokens(f):
            (explains if _conflict_in_log(f) else also).append(g)
        elif _covers(f, g) and not (f.playbook == CRASH_LOOP and g.playbook in NEVER_STARTED):
            explains.append(g)
    details = _details(f)
    # the finding about the very setting or module the log names comes first (SECRET_KEY before the settings module)
    explains.sort(key=lambda g: not any(d in f"{g.cause} {g.title} {g.explanation}".lower() for d in details))
    return explains, also


def _details(f: Finding) -> list[str]:
    """What the log named (a setting, a module), lower-cased; words too short to search for are left out."""
    out = []
    for t in _tokens(f):
        kind, _, detail = t.partition(":")
        if kind in ("missing-setting", "module-not-found") and len(detail) >= 4:
            out.append(detail.lower())
    return out


def _conflict_in_log(f: Finding) -> bool:
    return any("Conflicting migrations detected" in e.text for e in f.evidence if e.kind == "log")
