"""secret-missing: Secret and ConfigMap references that name objects or keys that do not exist.

Checked on every top-level workload's template, so a Job is caught before its pod fails,
and matched with the kubelet's CreateContainerConfigError on pods that already did. The
fix is the closest existing name or key. Only key names are ever read: the cache strips
Secret values at ingestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from diagnostics.findings import Evidence, Finding, Fix, ObjectRef, finding_id
from diagnostics.fixes import containers, pod_spec, template_fixes
from playbooks.base import Context
from playbooks.evidence import owner_ref, pod_events, waiting_states

ID = "secret-missing"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # Secret | ConfigMap
    name: str
    key: str | None  # None: the whole object (envFrom, volume without items, imagePullSecrets)
    where: str  # how the template refers to it, for the explanation
    path: tuple[Any, ...]  # where in the pod spec the name/key sits, for the fix
    optional: bool


def references(spec: dict[str, Any]) -> Iterator[Reference]:
    for ci, c in enumerate(containers(spec)):
        group = "initContainers" if ci < len(spec.get("initContainers") or []) else "containers"
        idx = ci if group == "initContainers" else ci - len(spec.get("initContainers") or [])
        cname = c.get("name", "?")
        for ei, env in enumerate(c.get("env") or ()):
            vf = env.get("valueFrom") or {}
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = vf.get(field)
                if ref and ref.get("name"):
                    yield Reference(
                        kind,
                        ref["name"],
                        ref.get("key"),
                        f"env {env.get('name')} of container {cname}",
                        (group, idx, "env", ei, "valueFrom", field),
                        bool(ref.get("optional")),
                    )
        for fi, src in enumerate(c.get("envFrom") or ()):
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = src.get(field)
                if ref and ref.get("name"):
                    yield Reference(
                        kind,
                        ref["name"],
                        None,
                        f"envFrom of container {cname}",
                        (group, idx, "envFrom", fi, field),
                        bool(ref.get("optional")),
                    )
    for vi, vol in enumerate(spec.get("volumes") or ()):
        for field, kind, name_field in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
            src = vol.get(field)
            if not src or not src.get(name_field):
                continue
            where = f"volume {vol.get('name')}"
            yield Reference(kind, src[name_field], None, where, ("volumes", vi, field), bool(src.get("optional")))
            for ii, item in enumerate(src.get("items") or ()):
                yield Reference(
                    kind,
                    src[name_field],
                    item.get("key"),
                    where,
                    ("volumes", vi, field, "items", ii),
                    bool(src.get("optional")),
                )
    for pi, ps in enumerate(spec.get("imagePullSecrets") or ()):
        if ps.get("name"):
            yield Reference("Secret", ps["name"], None, "imagePullSecrets", ("imagePullSecrets", pi), True)


def closest(word: str, candidates: list[str]) -> str | None:
    """The candidate most like `word`: shared words count more than shared letters (db-password ~ database-password)."""
    best, best_score = None, 0.0
    parts = set(word.replace("_", "-").replace(".", "-").lower().split("-"))
    for c in candidates:
        cparts = set(c.replace("_", "-").replace(".", "-").lower().split("-"))
        score = difflib.SequenceMatcher(None, word.lower(), c.lower()).ratio() + 0.5 * len(parts & cparts) / len(
            parts | cparts
        )
        if score > best_score:
            best, best_score = c, score
    return best if best_score >= 0.6 else None


def _keys(obj: dict[str, Any]) -> list[str]:
    return sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})


def _set(spec: MutableMapping[str, Any], path: tuple[Any, ...], field: str, value: str) -> None:
    cur: Any = spec
    for step in path:
        cur = cur[step]
    cur[field] = value


def _name_at(r: Reference) -> tuple[tuple[Any, ...], str]:
    """Where the reference's object name sits: a volume item's name is its volume's."""
    if r.path[0] == "volumes":
        return r.path[:3], "secretName" if r.kind == "Secret" else "name"
    return r.path, "name"


def _places(refs: list[Reference]) -> str:
    wheres = list(dict.fromkeys(r.where for r in refs))
    return wheres[0] + (f" (and {len(wheres) - 1} more place(s))" if len(wheres) > 1 else "")


class SecretMissing:
    id = ID
    title = "References to missing Secrets, ConfigMaps or keys"
    kinds = ("Pod", "Secret", "ConfigMap", "Event", *WORKLOADS[:-1])
    uses_repo = True
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        snap = ctx.snapshot
        findings: list[Finding] = []
        for kind in WORKLOADS:
            for obj in snap.list(kind):
                if _finished_job(obj) or snap.owner(obj) is not None:
                    continue  # owned objects are checked through their owner's template
                ref = owner_ref(obj)
                if ctx.in_scope(ref):
                    findings += self._check(ctx, obj, ref)
        return findings

    def _check(self, ctx: Context, workload: dict[str, Any], ref: ObjectRef) -> list[Finding]:
        snap = ctx.snapshot
        ns = ref.namespace or "default"
        spec = pod_spec(workload)
        # one finding per missing object or key, however many places name it; its fix changes them all
        objects: dict[tuple[str, str], list[Reference]] = {}
        keys: dict[tuple[str, str, str], list[Reference]] = {}
        for r in references(dict(spec)):
            if r.optional:
                continue
            target = snap.get(r.kind, ns, r.name)
            if target is None:
                objects.setdefault((r.kind, r.name), []).append(r)
            elif r.key is not None and r.key not in _keys(target):
                keys.setdefault((r.kind, r.name, r.key), []).append(r)
        if not objects and not keys:
            return []
        failing = self._failing_evidence(ctx, workload)  # read only for workloads with a problem: events are costly
        out = [self._missing_object(ctx, workload, ref, refs, ns, failing) for refs in objects.values()]
        for (kind, name, _), refs in keys.items():
            out.append(self._missing_key(ctx, workload, ref, refs, ns, snap.get(kind, ns, name), failing))
        return out

    def _failing_evidence(self, ctx: Context, workload: dict[str, Any]) -> list[Evidence]:
        ev: list[Evidence] = []
        for pod in ctx.snapshot.pods_of(workload):
            for cname, waiting in waiting_states(pod):
                if waiting.get("reason") in ("CreateContainerConfigError", "CreateContainerError"):
                    ev.append(
                        Evidence(
                            "condition",
                            f"{waiting['reason']}: {waiting.get('message', '')}",
                            f"container {cname} of Pod {pod['metadata'].get('namespace')}/{pod['metadata']['name']}",
                        )
                    )
            ev += [e for e in pod_events(ctx.snapshot, pod) if "FailedMount" in e.text or "Error:" in e.text][-1:]
            if ev:
                break
        return ev

    def _missing_object(self, ctx, workload, ref, refs: list[Reference], ns, failing) -> Finding:  # type: ignore[no-untyped-def]
        r = refs[0]
        names = sorted(o["metadata"]["name"] for o in ctx.snapshot.list(r.kind, ns))
        cause = f"missing-{r.kind.lower()}:{r.name}"
        near = closest(r.name, names)
        fixes: tuple[Fix, ...] = ()
        if near:
            at = list(dict.fromkeys(_name_at(x) for x in refs))

            def rename(ps: MutableMapping[str, Any], near: str = near) -> None:
                for path, field in at:
                    _set(ps, path, field, near)

            fixes = template_fixes(
                workload,
                rename,
                title=f"Use {r.kind} {near} instead of {r.name}",
                risk="low",
                notes=f"{r.kind} {near} exists in {ns}.",
                repo=ctx.repo,
                key=finding_id(ID, ref, cause),
            )
        lower = r.kind.lower()
        return Finding(
            id=finding_id(ID, ref, cause),
            playbook=ID,
            severity="error",
            object=ref,
            title=f'{r.kind} "{r.name}" not found',
            explanation=(
                f"The {_places(refs)} refers to {r.kind} {ns}/{r.name}, which does not exist, so the container "
                f'cannot be configured ({lower} "{r.name}" not found).'
                + (f" {r.kind}s in {ns}: {', '.join(names)}." if names else "")
            ),
            evidence=(
                *failing,
                Evidence("object", f"{r.kind}s in {ns}: {', '.join(names) or 'none'}", f"namespace {ns}"),
            ),
            fixes=fixes,
            cause=cause,
        )

    def _missing_key(self, ctx, workload, ref, refs: list[Reference], ns, target, failing) -> Finding:  # type: ignore[no-untyped-def]
        r = refs[0]
        keys = _keys(target)
        cause = f"missing-key:{r.kind}/{r.name}/{r.key}"
        near = closest(r.key or "", keys)
        fixes: tuple[Fix, ...] = ()
        if near:

            def rekey(ps: MutableMapping[str, Any], near: str = near) -> None:
                for x in refs:
                    _set(ps, x.path, "key", near)

            fixes = template_fixes(
                workload,
                rekey,
                title=f"Use key {near} of {r.kind} {r.name}",
                risk="low",
                notes=f"{r.kind} {r.name} has the key {near}; values are not read or shown.",
                repo=ctx.repo,
                key=finding_id(ID, ref, cause),
            )
        return Finding(
            id=finding_id(ID, ref, cause),
            playbook=ID,
            severity="error",
            object=ref,
            title=f"Key {r.key} not found in {r.kind} {r.name}",
            explanation=(
                f"The {_places(refs)} reads key {r.key} of {r.kind} {ns}/{r.name}, which has no such key "
                f"(couldn't find key {r.key} in {r.kind} {ns}/{r.name}). Its keys are: {', '.join(keys) or 'none'}."
            ),
            evidence=(
                *failing,
                Evidence(
                    "object", f"{r.kind} {ns}/{r.name} has keys: {', '.join(keys) or 'none'}", f"{r.kind} {ns}/{r.name}"
                ),
            ),
            fixes=fixes,
            cause=cause,
        )


def _finished_job(obj: dict[str, Any]) -> bool:
    if obj.get("kind") != "Job":
        return False
    conds = obj.get("status", {}).get("conditions") or ()
    return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conds)


PLAYBOOK = SecretMissing()
