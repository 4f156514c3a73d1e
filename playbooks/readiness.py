"""`readiness`: one verdict per namespace before deploying — READY, READY WITH WARNINGS, or BLOCKED.

It runs every other playbook, then asks the registries for the image of every workload
(image-pull only looks at pods already failing to pull). Its findings are the other
playbooks' findings, unchanged (their fixes apply as usual), plus one verdict per
namespace on the Namespace itself: `error` for BLOCKED, `warning` for READY WITH
WARNINGS, `info` for READY. Each blocker in the verdict names its way out: the command
that applies its fix, or, when there is no automatic fix, what must be done.

Repository findings (migrations, contracts, schema) count for the namespaces the
repository's manifests deploy to (the namespace asked for when it has no manifests).
A check that could not run (forbidden, unreachable) keeps a namespace from READY: the
verdict is not given and the run ends as "could not check", as DESIGN.md wants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from diagnostics.findings import Evidence, Finding, ObjectRef, Severity, finding_id
from diagnostics.snapshot import WORKLOAD_KINDS, Obj, Snapshot
from playbooks.base import Context, Playbook
from playbooks.evidence import owner_ref
from playbooks.runner import CouldNotCheck, Outcome, run_all

ID = "readiness"
SUB_TIMEOUT = 25.0  # seconds each playbook gets inside the readiness run (which has its own limit)
VERDICTS = {"error": "BLOCKED", "warning": "READY WITH WARNINGS", "info": "READY"}
OWN_KINDS = ("Namespace", "Pod", *sorted(WORKLOAD_KINDS))


@dataclass(frozen=True, slots=True)
class Verdict:
    namespace: str
    verdict: str  # READY | READY WITH WARNINGS | BLOCKED
    blockers: tuple[Finding, ...]
    warnings: tuple[Finding, ...]


def fix_command(finding: Finding, namespace: str | None = None) -> str:
    """How an operator clears `finding`: the headless command for its fix, or what the finding says to do."""
    if finding.fixes:
        ns = f" -n {namespace}" if namespace and finding.object.namespace else ""
        return (
            f"pitstop --playbook {finding.playbook}{ns} --only {finding.id} --apply --yes"
            f"  (console: select it, press d, then a)"
        )
    return "no automatic fix: " + finding.explanation


class Readiness:
    id = ID
    title = "Deploy readiness: one verdict per namespace"
    uses_repo = True
    uses_registry = True
    aggregate = True  # runs the others: `--playbook all` and the console's live runs leave it out

    @property
    def kinds(self) -> tuple[str, ...]:
        kinds = set(OWN_KINDS)
        for pb in _others():
            kinds.update(pb.kinds)
        return tuple(sorted(kinds))

    async def run(self, ctx: Context) -> list[Finding]:
        outcomes = await run_all(_others(), ctx, SUB_TIMEOUT)
        broken = [o for o in outcomes if o.status == "error"]
        if broken:
            raise CouldNotCheck(
                "; ".join(f"{o.id}: {o.error}" for o in broken), unreachable=any(o.unreachable for o in broken)
            )
        found = [f for o in outcomes for f in o.findings]
        found += await self._images(ctx, found)
        deployed = self._repo_namespaces(ctx)
        verdicts = [verdict(ns, found, repo_counts=ns in deployed) for ns in self._namespaces(ctx)]
        skipped = [o for o in outcomes if o.status == "skipped"]
        counted = {f.id for v in verdicts for f in (*v.blockers, *v.warnings)}
        # only what the verdicts stand on: a repository finding about another namespace's deploy is not ours
        return [f for f in found if f.id in counted] + [self._verdict_finding(v, skipped) for v in verdicts]

    # --- which namespaces ----------------------------------------------------------------------

    def _namespaces(self, ctx: Context) -> list[str]:
        if ctx.namespace is not None:
            return [ctx.namespace]
        if ctx.focus is not None and ctx.focus.kind == "Namespace":
            return [ctx.focus.name]
        snap = ctx.snapshot
        found = {key[0] for kind in WORKLOAD_KINDS for key in snap.objects.get(kind, {})}
        found |= {key[0] for key in snap.objects.get("Pod", {})}
        return sorted(found - {""})

    def _repo_namespaces(self, ctx: Context) -> set[str]:
        """Where the repository deploys: its manifests' namespaces; with no manifests, the namespace asked for."""
        deployed = (
            {ns for m in ctx.repo.manifests() if (ns := m.namespace or m.implied_namespace)} if ctx.repo else set()
        )
        if not deployed and ctx.namespace is not None:
            return {ctx.namespace}
        return deployed

    # --- images --------------------------------------------------------------------------------

    async def _images(self, ctx: Context, found: list[Finding]) -> list[Finding]:
        """A blocker for every workload whose image its registry does not have (and image-pull did not report)."""
        if ctx.registry is None:
            return []
        registry = ctx.registry
        reported = {(f.object.kind, f.object.namespace, f.object.name) for f in found if f.playbook == "image-pull"}
        wanted: list[tuple[Obj, ObjectRef, str]] = []
        for obj in _top_level_workloads(ctx.snapshot):
            ref = owner_ref(obj)
            if not ctx.in_scope(ref) or (ref.kind, ref.namespace, ref.name) in reported or _finished(obj):
                continue
            wanted += [(obj, ref, image) for image in _images_of(obj)]
        answers = await asyncio.gather(*(registry.manifest(image) for _, _, image in wanted))
        out: list[Finding] = []
        for (_, ref, image), answer in zip(wanted, answers, strict=True):
            if answer.found:
                continue
            cause = f"image:{image}"
            evidence = (Evidence("registry", answer.message or answer.status, f"registry {image.split('/')[0]}"),)
            severity: Severity
            if answer.status in ("not_found", "invalid"):
                severity, title = "error", f"Image {image} is not in its registry"
                explanation = (
                    f"{ref} runs {image}, which its registry does not have: a deploy would end in "
                    "ImagePullBackOff. Push the image, or point the workload at a tag that exists."
                )
            else:
                severity, title = "warning", f"Could not check image {image}"
                explanation = f"The registry did not say whether it has {image} ({answer.status}): {answer.message}"
            out.append(
                Finding(
                    id=finding_id(ID, ref, cause),
                    playbook=ID,
                    severity=severity,
                    object=ref,
                    title=title,
                    explanation=explanation,
                    evidence=evidence,
                    cause=cause,
                )
            )
        return out

    def _verdict_finding(self, v: Verdict, skipped: list[Outcome]) -> Finding:
        ref = ObjectRef("Namespace", v.namespace)
        severity: Severity = "error" if v.blockers else "warning" if v.warnings or skipped else "info"
        counts = f"{len(v.blockers)} blocker(s), {len(v.warnings)} warning(s)"
        lines = [f"{v.verdict} for {v.namespace}: {counts}."]
        lines += [f"Blocker {f.id}: {f.title} ({f.object}). Way out: {fix_command(f, v.namespace)}" for f in v.blockers]
        lines += [f"Warning {f.id}: {f.title} ({f.object})." for f in v.warnings]
        lines += [f"Not checked: {o.id} ({o.error})." for o in skipped]
        evidence = tuple(
            Evidence("object", f"{f.severity} {f.playbook}: {f.title}", str(f.object), f.location)
            for f in (*v.blockers, *v.warnings)
        )
        return Finding(
            id=finding_id(ID, ref, "verdict"),
            playbook=ID,
            severity=severity,
            object=ref,
            title=f"{VERDICTS[severity]}: {v.namespace} ({counts})",
            explanation="\n".join(lines),
            evidence=evidence,
            cause="verdict",
            related=tuple(f.id for f in (*v.blockers, *v.warnings)),
        )


def verdict(namespace: str, findings: Iterable[Finding], *, repo_counts: bool) -> Verdict:
    """The namespace's verdict from findings: its own objects', and the repository's when `repo_counts`."""
    mine = [
        f
        for f in findings
        if f.playbook != ID or f.cause != "verdict"
        if f.object.namespace == namespace or (f.object.namespace is None and repo_counts)
    ]
    blockers = tuple(f for f in mine if f.severity == "error")
    warnings = tuple(f for f in mine if f.severity == "warning")
    word = "BLOCKED" if blockers else "READY WITH WARNINGS" if warnings else "READY"
    return Verdict(namespace, word, blockers, warnings)


def _others() -> list[Playbook]:
    from playbooks.catalog import all_playbooks  # the catalog imports this module: look it up when run

    return [pb for pb in all_playbooks().values() if not getattr(pb, "aggregate", False)]


def _top_level_workloads(snap: Snapshot) -> list[Obj]:
    out = [o for kind in sorted(WORKLOAD_KINDS) for o in snap.list(kind) if snap.owner(o) is None]
    return out + [p for p in snap.list("Pod") if snap.owner(p) is None and not _owned(p)]


def _owned(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("ownerReferences"))


def _finished(obj: Obj) -> bool:
    """A Job that has completed or failed for good: its image no longer matters for the next deploy."""
    if obj.get("kind") != "Job":
        return False
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


def _images_of(obj: Obj) -> list[str]:
    spec: Any = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    elif obj.get("kind") != "Pod":
        spec = (spec.get("template") or {}).get("spec") or {}
    images = [c.get("image") for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))]
    return list(dict.fromkeys(str(i) for i in images if i))


PLAYBOOK = Readiness()
