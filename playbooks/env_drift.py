"""env-drift: env a Job or CronJob lacks that its Deployment has, settings modules the repository does not have,
and names the repository's `.env.example` and the cluster disagree on.

A Job (or CronJob) is compared with the Deployment (or StatefulSet) it belongs with: the one it is named
after (`coditect-backend-migration` → `coditect-backend`) or that runs the same image repository. An env
name the Deployment sets and the Job's container lacks, an envFrom source it lacks, or a name it reads from
another place than the Deployment does, is drift; the fix copies the Deployment's entry (with its
`valueFrom`) into the Job's template. This is read from the templates, so it is found before the Job's pod
has ever run (behind a CreateContainerConfigError, say); when the Job's log shows the program needs the
name (`The SECRET_KEY setting must not be empty`, `KeyError: 'X'`), the finding is an error, else a warning.

Env values that name Python modules (`DJANGO_SETTINGS_MODULE`, `*_MODULE`) are looked up in the
repository's Python roots (directories with manage.py, pyproject.toml, setup.py/cfg, and the root itself);
a module that is not there gets the one that is, closest by name with the same leaf
(`settings.production`). A `ModuleNotFoundError` in the log makes it an error.

Against the repository's `.env.example` (or `.env`), only names are compared, never values: a `.env` is
read for its names and nothing else. Those findings are informational and are about the file.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from diagnostics import dotenv, imageref
from diagnostics.diffs import unified
from diagnostics.dotenv import Dotenv
from diagnostics.findings import (
    Evidence,
    FilePlan,
    FileTarget,
    Finding,
    Fix,
    Location,
    ObjectRef,
    Severity,
    finding_id,
    stable_id,
)
from diagnostics.fixes import TEMPLATE_PATH, PodSpecChange, clone, template_fixes
from diagnostics.pymodules import PythonTree
from playbooks import crash_causes
from playbooks.base import Context
from playbooks.evidence import owner_ref, waiting_states

ID = "env-drift"
REFERENCE_KINDS = ("Deployment", "StatefulSet")  # long-running workloads whose env the Jobs should share
RUN_KINDS = ("Job", "CronJob")
TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
PODS_READ = 2  # newest pods whose logs are read: the runs of one template fail alike
DOTENV_MIN_SHARED = 3  # names a Deployment must share with a .env file to be the app it describes

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '(?P<name>[^']+)'")
_SETTING_EMPTY = re.compile(r"The (?P<name>[A-Z][A-Z0-9_]*) setting must not be empty")

DriftKind = Literal["env-missing", "envfrom-missing", "env-ref"]


# --- reading templates -----------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Slot:
    """A container of a pod template: `containers` or `initContainers`, and its name."""

    group: str
    index: int
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or f"#{self.index}")


@dataclass(frozen=True, slots=True)
class Source:
    """An envFrom entry."""

    kind: str  # Secret | ConfigMap
    name: str
    prefix: str
    optional: bool
    raw: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.prefix)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" (prefix {self.prefix})" if self.prefix else "")


def slots(spec: MutableMapping[str, Any]) -> list[Slot]:
    """Init containers then containers, as the kubelet starts them; malformed entries left out."""
    return [
        Slot(group, i, c)
        for group in ("initContainers", "containers")
        for i, c in enumerate(_list(spec.get(group)))
        if isinstance(c, dict)
    ]


def env_entries(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's env entries by name (the last one wins, as for the kubelet)."""
    out: dict[str, dict[str, Any]] = {}
    for e in _list(container.get("env")):
        if isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"]:
            out[e["name"]] = e
    return out


def env_from(container: dict[str, Any]) -> list[Source]:
    out: list[Source] = []
    for src in _list(container.get("envFrom")):
        if not isinstance(src, dict):
            continue
        for field_name, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = _dict(src.get(field_name))
            if isinstance(ref.get("name"), str) and ref["name"]:
                prefix = src.get("prefix")
                out.append(
                    Source(kind, ref["name"], prefix if isinstance(prefix, str) else "", bool(ref.get("optional")), src)
                )
    return out


def _object_keys(obj: dict[str, Any] | None) -> set[str] | None:
    if obj is None:
        return None
    return {*_dict(obj.get("data")), *_dict(obj.get("binaryData"))}


def _image_repository(image: Any) -> str | None:
    try:
        return imageref.parse(str(image)).name if image else None
    except ValueError:
        return None


def template(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec inside a workload (or a Pod), read only: {} where the object has none."""
    cur = obj
    for key in TEMPLATE_PATH.get(str(obj.get("kind")), ("spec", "template", "spec")):
        cur = _dict(cur.get(key))
    return cur


def _images(spec: MutableMapping[str, Any]) -> set[str]:
    return {r for s in slots(spec) if (r := _image_repository(s.spec.get("image")))}


def describe(entry: dict[str, Any]) -> str:
    """Where an env entry's value comes from, without ever quoting a literal value (it may be a credential)."""
    vf = _dict(entry.get("valueFrom"))
    for field_name, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        ref = _dict(vf.get(field_name))
        if ref:
            return f"from {kind} {ref.get('name')} key {ref.get('key')}"
    if vf.get("fieldRef"):
        return f"from field {_dict(vf['fieldRef']).get('fieldPath')}"
    if vf.get("resourceFieldRef"):
        return f"from resource {_dict(vf['resourceFieldRef']).get('resource')}"
    if vf:
        return "from a valueFrom reference"
    return "as a literal value"


def _finished_job(obj: dict[str, Any]) -> bool:
    if obj.get("kind") != "Job":
        return False
    conds = _list(_dict(obj.get("status")).get("conditions"))
    return any(
        isinstance(c, dict) and c.get("type") in ("Complete", "SuccessCriteriaMet") and c.get("status") == "True"
        for c in conds
    )


def _ns(obj: dict[str, Any]) -> str:
    return str(_dict(obj.get("metadata")).get("namespace") or "default")


def _name(obj: dict[str, Any]) -> str:
    return str(_dict(obj.get("metadata")).get("name") or "")


# --- drift between a Job and its Deployment ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference between a reference container and a Job's container."""

    kind: DriftKind
    name: str  # the env name, or "ConfigMap/NAME" for an envFrom source
    ref_slot: Slot
    run_slot: Slot
    entry: dict[str, Any]  # the reference's env entry or envFrom entry
    provides: frozenset[str] = frozenset()  # for an envFrom source: the names it brings


@dataclass(frozen=True, slots=True)
class Candidate:
    """A Deployment or StatefulSet, read once, that Jobs may be compared with."""

    obj: dict[str, Any]
    name: str
    images: frozenset[str]
    env_names: frozenset[str]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Candidate:
        spec = template(obj)
        names = frozenset(n for s in slots(spec) for n in env_entries(s.spec))
        return cls(obj, _name(obj), frozenset(_images(spec)), names)


def candidates(snap: Any) -> dict[str, list[Candidate]]:
    """The reference workloads by namespace."""
    out: dict[str, list[Candidate]] = {}
    for kind in REFERENCE_KINDS:
        for obj in snap.list(kind):
            out.setdefault(_ns(obj), []).append(Candidate.of(obj))
    return out


def reference_for(run: dict[str, Any], among: Sequence[Candidate]) -> tuple[dict[str, Any], bool] | None:
    """The Deployment (or StatefulSet) a Job or CronJob should share its env with, and whether it is named after it.

    Named after it (`NAME-…`) and running the same image repository beats either alone; among equals the
    longest name, then the most env names in common.
    """
    name = _name(run)
    spec = template(run)
    images = _images(spec)
    run_names = {n for s in slots(spec) for n in env_entries(s.spec)}
    best: tuple[dict[str, Any], bool] | None = None
    best_key: tuple[int, int, int, int, int] | None = None
    for c in among:
        named = bool(c.name) and name.startswith(c.name + "-")
        same_image = bool(images & c.images)
        if not (named or same_image):
            continue
        key = (
            int(named and same_image),
            int(same_image),
            int(named),
            len(c.name) if named else 0,
            len(run_names & c.env_names),
        )
        if best_key is None or key > best_key:
            best, best_key = (c.obj, named), key
    return best


def container_pairs(
    ref_spec: MutableMapping[str, Any], run_spec: MutableMapping[str, Any], named: bool
) -> list[tuple[Slot, Slot]]:
    """(reference container, Job container) pairs: same image repository, else the only container of each."""
    ref_slots, run_slots = slots(ref_spec), slots(run_spec)
    ref_main = [s for s in ref_slots if s.group == "containers"]
    run_main = [s for s in run_slots if s.group == "containers"]
    pairs: list[tuple[Slot, Slot]] = []
    for r in run_slots:
        repo = _image_repository(r.spec.get("image"))
        same = [d for d in ref_slots if repo is not None and _image_repository(d.spec.get("image")) == repo]
        if not same and named and len(ref_main) == 1 and run_main == [r]:
            same = ref_main
        if same:
            same.sort(key=lambda d: (d.name != r.name, d.group != "containers"))
            pairs.append((same[0], r))
    return pairs


def _ref_broken(snap: Any, ns: str, entry: dict[str, Any]) -> bool:
    """The entry reads a Secret/ConfigMap or key that does not exist: secret-missing's finding, not ours."""
    vf = _dict(entry.get("valueFrom"))
    for field_name, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        ref = _dict(vf.get(field_name))
        if ref and not ref.get("optional"):
            keys = _object_keys(snap.get(kind, ns, str(ref.get("name"))))
            return keys is None or ref.get("key") not in keys
    return False


def drifts(snap: Any, ns: str, ref_slot: Slot, run_slot: Slot) -> list[Drift]:
    """What the Job's container lacks, or reads elsewhere, compared with the reference container."""
    out: list[Drift] = []
    run_env = env_entries(run_slot.spec)
    run_sources = env_from(run_slot.spec)
    run_source_keys = {s.key for s in run_sources}
    from_sources: set[str] = set()
    for s in run_sources:
        keys = _object_keys(snap.get(s.kind, ns, s.name)) or set()
        from_sources |= {s.prefix + k for k in keys}
    covered: set[str] = set()
    for s in env_from(ref_slot.spec):
        if s.key in run_source_keys:
            continue
        provides = frozenset(s.prefix + k for k in (_object_keys(snap.get(s.kind, ns, s.name)) or ()))
        covered |= provides
        out.append(Drift("envfrom-missing", f"{s.kind}/{s.name}", ref_slot, run_slot, s.raw, provides))
    for name, entry in env_entries(ref_slot.spec).items():
        if name in run_env:
            theirs = run_env[name]
            mine_vf, their_vf = entry.get("valueFrom"), theirs.get("valueFrom")
            if (
                mine_vf
                and mine_vf != their_vf
                and not _ref_broken(snap, ns, theirs)
                and not _ref_broken(snap, ns, entry)
            ):
                out.append(Drift("env-ref", name, ref_slot, run_slot, entry))
        elif name not in from_sources and name not in covered:
            out.append(Drift("env-missing", name, ref_slot, run_slot, entry))
    return out


# --- what the logs say ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogRead:
    source: str  # "logs of container migrate of Pod ns/x (previous instance)"
    lines: tuple[str, ...]
    problem: str | None = None


def _terminated(pod: dict[str, Any]) -> list[tuple[str, bool]]:
    """(container, previous) for every instance that ran and ended: the logs worth reading."""
    status = _dict(pod.get("status"))
    out: list[tuple[str, bool]] = []
    for cs in _list(status.get("initContainerStatuses")) + _list(status.get("containerStatuses")):
        if not isinstance(cs, dict):
            continue
        name = str(cs.get("name") or "")
        if _dict(cs.get("state")).get("terminated"):
            out.append((name, False))
        if _dict(cs.get("lastState")).get("terminated"):
            out.append((name, True))
    return out


def _pods(snap: Any, workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The workload's pods, oldest first (a CronJob's through the Jobs it started)."""
    return sorted(snap.pods_of(workload), key=lambda p: str(_dict(p.get("metadata")).get("creationTimestamp") or ""))


async def read_logs(ctx: Context, workload: dict[str, Any]) -> list[LogRead]:
    """The logs of the workload's newest pods whose containers ran and ended (previous instances too)."""
    if ctx.logs is None:
        return []
    wanted = [(p, c, prev) for p in _pods(ctx.snapshot, workload) for c, prev in _terminated(p)]
    pods_seen: list[str] = []
    chosen = []
    for p, c, prev in reversed(wanted):
        pname = _name(p)
        if pname not in pods_seen:
            if len(pods_seen) >= PODS_READ:
                continue
            pods_seen.append(pname)
        chosen.append((p, c, prev))
    reads = await asyncio.gather(*(ctx.logs.tail(_ns(p), _name(p), c, previous=prev) for p, c, prev in chosen))
    out = []
    for (p, c, prev), logs in zip(chosen, reads, strict=True):
        source = f"logs of container {c} of Pod {_ns(p)}/{_name(p)}" + (" (previous instance)" if prev else "")
        out.append(LogRead(source, tuple(logs.lines), logs.problem))
    return out


def needs(reads: Sequence[LogRead], name: str) -> tuple[str, str] | None:
    """(log line, source) where the program says it needs env `name`, or None.

    Django's `The SECRET_KEY setting must not be empty` counts for DJANGO_SECRET_KEY (a setting is read
    from an env name that ends with it), `KeyError: 'NAME'` and lines naming `NAME` with "environment
    variable" or "not set" count for NAME itself.
    """
    mention = re.compile(
        rf"KeyError: '{re.escape(name)}'|\b{re.escape(name)}\b.*(?:environment variable|env var|not set|is missing|"
        rf"is required|must be set|is unset|undefined)|(?:environment variable|env var)\s+['\"]?{re.escape(name)}\b",
        re.IGNORECASE,
    )
    for read in reads:
        for line in reversed(read.lines):
            text = line.strip()
            m = _SETTING_EMPTY.search(text)
            if m and (name == m["name"] or name.endswith("_" + m["name"])):
                return text, read.source
            if mention.search(text):
                return text, read.source
        cause = crash_causes.from_logs(read.lines)
        detail = cause.detail if cause is not None and cause.kind == "missing-setting" else ""
        if cause is not None and detail and (name == detail or name.endswith("_" + detail)):
            return cause.line, read.source
    return None


def module_missing_line(reads: Sequence[LogRead], module: str) -> tuple[str, str] | None:
    """(log line, source) of a `ModuleNotFoundError` for `module` or one of its parent packages."""
    for read in reads:
        for line in reversed(read.lines):
            m = _NO_MODULE.search(line)
            if m and (module == m["name"] or module.startswith(m["name"] + ".")):
                return line.strip(), read.source
    return None


def _log_evidence(reads: Sequence[LogRead]) -> list[Evidence]:
    """Why the logs could not tell: not read, or empty."""
    out = []
    for r in reads[:1]:
        if r.problem:
            out.append(Evidence("log", f"logs not read: {r.problem}", r.source))
        elif not r.lines:
            out.append(Evidence("log", "the log is empty: the program printed nothing before it exited", r.source))
    return out


def _not_started(snap: Any, workload: dict[str, Any]) -> list[Evidence]:
    """The latest pod's containers that never started: their logs cannot show the drift yet."""
    for pod in reversed(_pods(snap, workload)):
        for cname, waiting in waiting_states(pod):
            reason = waiting.get("reason")
            if reason in ("CreateContainerConfigError", "CreateContainerError", "ImagePullBackOff", "ErrImagePull"):
                return [
                    Evidence(
                        "condition",
                        f"{reason}: {waiting.get('message', '')}".rstrip(": ")
                        + " (the container has not run yet: its log cannot show what else it lacks)",
                        f"container {cname} of Pod {_ns(pod)}/{_name(pod)}",
                    )
                ]
    return []


# --- the playbook -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    """A Job or CronJob compared with its reference, and what was found."""

    workload: dict[str, Any]
    ref: ObjectRef
    reference: dict[str, Any]
    drifts: list[Drift]
    named: bool  # named after the reference
    same_image: bool

    def why(self) -> str:
        """How the Job belongs with the reference, for the explanation."""
        if self.named and self.same_image:
            return "is named after and runs the same image as"
        return "is named after" if self.named else "runs the same image as"


@dataclass(frozen=True, slots=True)
class _Suspect:
    """A module value the repository does not have, and what it has instead (None: nothing like it)."""

    use: _ModuleUse
    right: str | None
    where_right: str
    evidence: tuple[Evidence, ...]
    missing: str | None  # the package Python would name as missing; None: no repository to tell


@dataclass(frozen=True, slots=True)
class _ModuleUse:
    workload: dict[str, Any]
    ref: ObjectRef
    name: str  # DJANGO_SETTINGS_MODULE
    value: str  # the whole value ("app.main:app")
    module: str  # its module part ("app.main")
    where: tuple[str, ...]  # container names


def _is_module_name(name: str) -> bool:
    return name == "DJANGO_SETTINGS_MODULE" or name.endswith("_MODULE")


def module_uses(workload: dict[str, Any], ref: ObjectRef) -> list[_ModuleUse]:
    found: dict[tuple[str, str], list[str]] = {}
    for s in slots(template(workload)):
        for name, entry in env_entries(s.spec).items():
            value = entry.get("value")
            if _is_module_name(name) and isinstance(value, str) and _DOTTED.fullmatch(value.split(":", 1)[0]):
                found.setdefault((name, value), []).append(s.name)
    return [_ModuleUse(workload, ref, n, v, v.split(":", 1)[0], tuple(w)) for (n, v), w in found.items()]


def _container(spec: MutableMapping[str, Any], slot: Slot) -> MutableMapping[str, Any] | None:
    """The container of `slot` in another copy of the template (live object or manifest): by name, else index."""
    group = spec.get(slot.group)
    if not isinstance(group, list):
        return None
    for c in group:
        if isinstance(c, MutableMapping) and c.get("name") == slot.spec.get("name"):
            return c
    return group[slot.index] if slot.index < len(group) and isinstance(group[slot.index], MutableMapping) else None


def _add_env(ref_slot: Slot, run_slot: Slot, name: str, entry: dict[str, Any]) -> PodSpecChange:
    order = list(env_entries(ref_slot.spec))
    before = order[: order.index(name)] if name in order else []

    def change(spec: MutableMapping[str, Any]) -> None:
        c = _container(spec, run_slot)
        if c is None:
            return
        env = c.get("env")
        if not isinstance(env, list):
            env = c["env"] = []
        names = [e.get("name") if isinstance(e, MutableMapping) else None for e in env]
        if name in names:
            return
        at = len(env)
        for prev in reversed(before):  # right after the entry that precedes it in the Deployment
            if prev in names:
                at = names.index(prev) + 1
                break
        env.insert(at, clone(entry))

    return change


def _set_value_from(run_slot: Slot, name: str, entry: dict[str, Any]) -> PodSpecChange:
    def change(spec: MutableMapping[str, Any]) -> None:
        c = _container(spec, run_slot)
        for e in _list(c.get("env")) if c is not None else ():
            if isinstance(e, MutableMapping) and e.get("name") == name:
                e.pop("value", None)
                e["valueFrom"] = clone(entry["valueFrom"])

    return change


def _add_env_from(run_slot: Slot, source: dict[str, Any]) -> PodSpecChange:
    def change(spec: MutableMapping[str, Any]) -> None:
        c = _container(spec, run_slot)
        if c is None:
            return
        sources = c.get("envFrom")
        if not isinstance(sources, list):
            sources = c["envFrom"] = []
        if all(dict(s) != source for s in sources if isinstance(s, MutableMapping)):
            sources.append(clone(source))

    return change


def _set_module(name: str, wrong: str, right: str) -> PodSpecChange:
    def change(spec: MutableMapping[str, Any]) -> None:
        for group in ("initContainers", "containers"):
            for c in _list(spec.get(group)):
                for e in _list(c.get("env")) if isinstance(c, MutableMapping) else ():
                    if isinstance(e, MutableMapping) and e.get("name") == name and e.get("value") == wrong:
                        e["value"] = right

    return change


def _both(changes: Sequence[PodSpecChange]) -> PodSpecChange:
    def change(spec: MutableMapping[str, Any]) -> None:
        for c in changes:
            c(spec)

    return change


class EnvDrift:
    id = ID
    title = "Env a Job lacks that its Deployment has, settings modules that do not exist, .env names"
    kinds = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ConfigMap", "Secret")
    uses_repo = True
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        snap = ctx.snapshot
        runs: list[_Run] = []
        uses: list[_ModuleUse] = []
        references: dict[int, dict[str, Any]] = {}
        among = candidates(snap)
        for kind in TEMPLATE_KINDS:
            for obj in snap.list(kind):
                if _finished_job(obj) or snap.owner(obj) is not None:
                    continue  # a CronJob's runs are checked through its template; a finished Job proved its env
                ref = owner_ref(obj)
                if not ctx.in_scope(ref):
                    continue
                uses += module_uses(obj, ref)
                found = reference_for(obj, among.get(ref.namespace or "default", ())) if kind in RUN_KINDS else None
                if found is not None:
                    references[id(obj)] = found[0]
                    run = self._compare(snap, obj, ref, *found)
                    if run.drifts:
                        runs.append(run)
        root = ctx.repo_root if ctx.repo_root is not None and ctx.repo_root.is_dir() else None
        tree = await asyncio.to_thread(PythonTree.of, root) if root is not None else None
        suspects = await asyncio.to_thread(self._suspects, tree, uses, references)
        # logs only for what is in doubt: a drift, or a module the repository does not have
        logged = {id(w): w for w in [*(r.workload for r in runs), *(x.use.workload for x in suspects)]}
        reads = dict(zip(logged, await asyncio.gather(*(read_logs(ctx, w) for w in logged.values())), strict=True))
        return await asyncio.to_thread(self._findings, ctx, root, tree, runs, suspects, reads)

    def _compare(self, snap: Any, run: dict[str, Any], ref: ObjectRef, reference: dict[str, Any], named: bool) -> _Run:
        ns = _ns(run)
        ref_spec, run_spec = template(reference), template(run)
        same_image = bool(_images(ref_spec) & _images(run_spec))
        out: list[Drift] = []
        for ref_slot, run_slot in container_pairs(ref_spec, run_spec, named):
            out += drifts(snap, ns, ref_slot, run_slot)
        return _Run(run, ref, reference, out, named, same_image)

    def _findings(
        self,
        ctx: Context,
        root: Path | None,
        tree: PythonTree | None,
        runs: list[_Run],
        suspects: list[_Suspect],
        reads: dict[int, list[LogRead]],
    ) -> list[Finding]:
        missing_names = sorted({d.name for r in runs for d in r.drifts if d.kind == "env-missing"})
        readers = tree.readers(missing_names) if tree is not None else {}
        out: list[Finding] = []
        for r in runs:
            out += self._drift_findings(ctx, r, reads.get(id(r.workload), []), readers)
        for x in suspects:
            f = self._module_finding(ctx, x, reads.get(id(x.use.workload), []))
            if f is not None:
                out.append(f)
        if root is not None:
            out += self._dotenv_findings(ctx, root)
        return out

    # --- a Job lacks what its Deployment has -------------------------------------------------------------

    def _drift_findings(
        self, ctx: Context, r: _Run, reads: list[LogRead], readers: dict[str, Location]
    ) -> list[Finding]:
        groups: dict[tuple[DriftKind, str], list[Drift]] = {}
        for d in r.drifts:
            groups.setdefault((d.kind, d.name), []).append(d)
        waiting = _not_started(ctx.snapshot, r.workload)
        out = []
        for (kind, name), ds in groups.items():
            out.append(self._drift_finding(ctx, r, kind, name, ds, reads, readers, waiting))
        return out

    def _drift_finding(
        self,
        ctx: Context,
        r: _Run,
        kind: DriftKind,
        name: str,
        ds: list[Drift],
        reads: list[LogRead],
        readers: dict[str, Location],
        waiting: list[Evidence],
    ) -> Finding:
        d = ds[0]
        ref = r.ref
        ns = ref.namespace or "default"
        rref = owner_ref(r.reference)
        rdesc = f"{rref.kind} {rref.name}"
        containers = ", ".join(dict.fromkeys(x.run_slot.name for x in ds))
        where = f"container {containers} of {ref.kind} {ref.name}"
        evidence: list[Evidence] = []
        need: tuple[str, str] | None = None
        if kind == "envfrom-missing":
            for n in sorted(d.provides):
                need = need or needs(reads, n)
            cause = f"envfrom-missing:{name}"
            source = next(s for s in env_from({"envFrom": [d.entry]}))
            title = f"{ref.kind} {ref.name} lacks envFrom {source}, which {rdesc} loads"
            what = (
                f"{rdesc} loads every key of {source} into its environment with envFrom"
                + (f" ({', '.join(sorted(d.provides))})" if d.provides else "")
                + f"; {where} does not"
            )
            changes = [_add_env_from(x.run_slot, x.entry) for x in ds]
            fix_title = f"Load {source} with envFrom, as {rdesc} does"
            evidence.append(Evidence("object", f"{rdesc} container {d.ref_slot.name}: envFrom {source}", str(rref)))
        elif kind == "env-missing":
            need = needs(reads, name)
            cause = f"env-missing:{name}"
            title = f"{ref.kind} {ref.name} lacks {name}, which {rdesc} sets"
            what = f"{rdesc} sets {name} {describe(d.entry)} in container {d.ref_slot.name}; {where} does not set it"
            changes = [_add_env(x.ref_slot, x.run_slot, name, x.entry) for x in ds]
            fix_title = f"Add {name} ({describe(d.entry)}) as {rdesc} has it"
            evidence.append(
                Evidence("object", f"{rdesc} container {d.ref_slot.name}: {name} {describe(d.entry)}", str(rref))
            )
        else:
            need = needs(reads, name)
            cause = f"env-ref:{name}"
            theirs = env_entries(d.run_slot.spec).get(name, {})
            title = f"{ref.kind} {ref.name} sets {name} {describe(theirs)}, {rdesc} {describe(d.entry)}"
            what = (
                f"{rdesc} sets {name} {describe(d.entry)} in container {d.ref_slot.name}; {where} sets it "
                f"{describe(theirs)}, so the two run with different settings"
            )
            changes = [_set_value_from(x.run_slot, name, x.entry) for x in ds]
            fix_title = f"Set {name} {describe(d.entry)}, as {rdesc} does"
            evidence.append(
                Evidence("object", f"{rdesc} container {d.ref_slot.name}: {name} {describe(d.entry)}", str(rref))
            )
        run_names = sorted(env_entries(d.run_slot.spec))
        run_sources = ", ".join(str(s) for s in env_from(d.run_slot.spec)) or "none"
        evidence.append(
            Evidence(
                "object",
                f"{ref.kind} {ref.name} container {d.run_slot.name}: env {', '.join(run_names) or 'none'}; "
                f"envFrom {run_sources}",
                str(ref),
            )
        )
        severity: Severity = "warning"
        what_kind = "A CronJob's runs" if ref.kind == "CronJob" else f"The {ref.kind}"
        if need is not None:
            severity = "error"
            evidence.append(Evidence("log", need[0], need[1]))
            said = crash_causes.said(need[0]).replace("Its last log says", "Its log says")
            verdict = f" {said} The program needs it: {what_kind.lower()} cannot succeed without it."
        else:
            evidence += waiting or _log_evidence(reads)
            verdict = (
                " Its log does not show yet whether the program needs it"
                + (" (the container has not run)" if waiting else "")
                + ("; both run the same image, so it most likely does." if r.same_image else ".")
            )
        loc = readers.get(name) if kind == "env-missing" else None
        if loc is not None:
            evidence.append(Evidence("file", f"{loc.path}:{loc.line} reads {name}", f"file {loc.path}:{loc.line}", loc))
            verdict += f" The repository reads it in {loc.path}:{loc.line}."
        key = finding_id(ID, ref, cause)
        fixes = template_fixes(
            r.workload,
            _both(changes),
            title=fix_title,
            risk="low",
            notes=f"Copied from {rdesc}; Secret and ConfigMap values are referenced, never read or shown.",
            repo=ctx.repo,
            key=key,
        )
        recreate = " (its pod template is immutable: the fix deletes and recreates it)" if ref.kind == "Job" else ""
        return Finding(
            id=key,
            playbook=ID,
            severity=severity,
            object=ref,
            title=title,
            explanation=(
                f"{ref.kind} {ns}/{ref.name} {r.why()} {rdesc}, whose env it should share. {what}.{verdict} "
                f"Way out: give the {ref.kind} the same entry as {rdesc}{recreate}, in the cluster and in its manifest."
            ),
            evidence=tuple(evidence),
            fixes=fixes,
            cause=cause,
        )

    # --- a settings module that is not there -------------------------------------------------------------

    def _suspects(
        self, tree: PythonTree | None, uses: list[_ModuleUse], references: dict[int, dict[str, Any]]
    ) -> list[_Suspect]:
        """The module values the repository does not have (or, without one, that differ from the reference's)."""
        out: list[_Suspect] = []
        for u in uses:
            reference = references.get(id(u.workload))
            ref_value = self._reference_value(reference, u.name)
            if tree is not None and tree.has_python():
                if tree.find(u.module) is not None:
                    continue
                if ref_value and ref_value != u.value and tree.find(ref_value.split(":", 1)[0]) is not None:
                    right_module: str | None = ref_value.split(":", 1)[0]
                else:
                    right_module = tree.closest(u.module)
                roots = ", ".join(tree.rel(p) if p != tree.root else "." for p in tree.roots)
                evidence = [
                    Evidence("file", f"no module {u.module} in the repository's Python roots ({roots})", "repository")
                ]
                right, where_right = None, ""
                if right_module is not None:
                    path = tree.find(right_module)
                    rel = tree.rel(path) if path is not None else right_module
                    right = right_module + (":" + u.value.split(":", 1)[1] if ":" in u.value else "")
                    where_right = f" The repository has {right_module} ({rel})."
                    evidence.append(Evidence("file", f"{rel} is module {right_module}", f"file {rel}", Location(rel)))
                parts = u.module.split(".")
                missing = next(
                    (".".join(parts[:i]) for i in range(1, len(parts) + 1) if tree.find(".".join(parts[:i])) is None),
                    u.module,
                )
                out.append(_Suspect(u, right, where_right, tuple(evidence), missing))
            elif reference is not None and ref_value and ref_value != u.value:
                rref = owner_ref(reference)
                out.append(
                    _Suspect(
                        u,
                        ref_value,
                        f" {rref.kind} {rref.name}, which runs the same program, sets {ref_value}.",
                        (Evidence("object", f"{rref.kind} {rref.name}: {u.name}={ref_value}", str(rref)),),
                        None,
                    )
                )
        return out

    def _module_finding(self, ctx: Context, x: _Suspect, reads: list[LogRead]) -> Finding | None:
        u = x.use
        log = module_missing_line(reads, u.module)
        if x.right is None and log is None:
            return None  # nothing like it in the repository, and no log: the image may hold another project
        evidence = [*x.evidence, *([Evidence("log", log[0], log[1])] if log else ())]
        ref = u.ref
        cause = f"env-value:{u.name}"
        key = finding_id(ID, ref, cause)
        fixes: tuple[Fix, ...] = ()
        if x.right is not None:
            fixes = template_fixes(
                u.workload,
                _set_module(u.name, u.value, x.right),
                title=f"Set {u.name} to {x.right}",
                risk="low",
                notes=f"{x.right} is the module that exists; {u.value} does not.",
                repo=ctx.repo,
                key=key,
            )
        said = f" {crash_causes.said(log[0]).replace('Its last log says', 'Its log says')}" if log else ""
        way = f"set {u.name} to {x.right}" if x.right else f"set {u.name} to a module the image has"
        return Finding(
            id=key,
            playbook=ID,
            severity="error" if log is not None else "warning",
            object=ref,
            title=(
                f"{u.name} names {u.value}, which does not exist"
                if x.missing is not None or log is not None
                else f"{u.name} is {u.value}, not {x.right} as in the workload it belongs with"
            ),
            explanation=(
                f"Container {', '.join(u.where)} of {ref.kind} {ref.namespace}/{ref.name} sets {u.name}={u.value}"
                + (
                    f", but the repository has no module {u.module}, so Python cannot import it "
                    f"(ModuleNotFoundError: No module named '{x.missing}')."
                    if x.missing is not None
                    else "."
                )
                + f"{x.where_right}{said} Way out: {way}."
            ),
            evidence=tuple(evidence),
            fixes=fixes,
            cause=cause,
        )

    @staticmethod
    def _reference_value(reference: dict[str, Any] | None, name: str) -> str | None:
        if reference is None:
            return None
        for s in slots(template(reference)):
            value = env_entries(s.spec).get(name, {}).get("value")
            if isinstance(value, str):
                return value
        return None

    # --- the repository's .env against the cluster -------------------------------------------------------

    def _dotenv_findings(self, ctx: Context, root: Path) -> list[Finding]:
        files = dotenv.files(root)
        if not files:
            return []
        snap = ctx.snapshot
        # per file: which Deployments it describes, and the names each sets
        described: dict[str, list[tuple[ObjectRef, set[str]]]] = {}
        for kind in REFERENCE_KINDS:
            for obj in snap.list(kind):
                ref = owner_ref(obj)
                if ctx.namespace is not None and ref.namespace != ctx.namespace:
                    continue
                names = self._effective_names(snap, obj)
                best = max(files, key=lambda f: len(names & set(f.names)))
                shared = len(names & set(best.names))
                if shared >= DOTENV_MIN_SHARED and shared * 2 >= min(len(names), len(best.names)):
                    described.setdefault(best.path, []).append((ref, names))
        out: list[Finding] = []
        for f in files:
            workloads = described.get(f.path)
            if not workloads:
                continue
            fref = ObjectRef("File", f.path)
            if not ctx.in_scope(fref):
                continue
            listed = set(f.names)
            undocumented: dict[str, list[str]] = {}
            unset: dict[str, list[str]] = {}
            for ref, names in workloads:
                for n in sorted(names - listed):
                    undocumented.setdefault(n, []).append(ref.name)
                for n in f.names:
                    if n not in names:
                        unset.setdefault(n, []).append(ref.name)
            if undocumented:
                out.append(self._undocumented(ctx, root, f, fref, undocumented))
            if unset:
                out.append(self._unset(f, fref, unset))
        return out

    @staticmethod
    def _effective_names(snap: Any, obj: dict[str, Any]) -> set[str]:
        names: set[str] = set()
        for s in slots(template(obj)):
            names |= set(env_entries(s.spec))
            for src in env_from(s.spec):
                names |= {src.prefix + k for k in _object_keys(snap.get(src.kind, _ns(obj), src.name)) or ()}
        return {n for n in names if _ENV_NAME.match(n)}

    def _undocumented(
        self, ctx: Context, root: Path, f: Dotenv, fref: ObjectRef, names: dict[str, list[str]]
    ) -> Finding:
        cause = f"dotenv-undocumented:{f.path}"
        key = finding_id(ID, fref, cause)
        listing = "; ".join(f"{n} ({', '.join(ws)})" for n, ws in names.items())
        fixes: tuple[Fix, ...] = ()
        if f.example:
            try:
                before = (root / f.path).read_text()
            except (OSError, UnicodeDecodeError):
                before = None
            if before is not None:
                lead = "" if not before or before.endswith("\n") else "\n"
                after = before + lead + "".join(f"{n}=\n" for n in names)
                fixes = (
                    Fix(
                        id=stable_id(key, "file", f.path),
                        title=f"List {', '.join(names)} in {f.path}",
                        target=FileTarget(f.path),
                        diff=unified(before, after, f.path, context=0),  # no neighbouring line: no value shown
                        risk="none",
                        notes="Adds the names with empty values; no value is read or written.",
                        plan=FilePlan(before, after),
                    ),
                )
        return Finding(
            id=key,
            playbook=ID,
            severity="info",
            object=fref,
            title=f"{f.path} does not list {len(names)} name(s) the cluster sets",
            explanation=(
                f"The cluster sets names that {f.path} does not list: {listing}. Whoever runs the program "
                f"from {f.path} does not know they exist. Way out: add them to {f.path}"
                + (" (names only)." if f.example else ", or commit a .env.example that lists them.")
            ),
            evidence=(Evidence("file", f"{f.path} lists {len(f.names)} name(s)", f"file {f.path}", Location(f.path)),),
            fixes=fixes,
            location=Location(f.path),
            cause=cause,
        )

    def _unset(self, f: Dotenv, fref: ObjectRef, names: dict[str, list[str]]) -> Finding:
        cause = f"dotenv-unset:{f.path}"
        listing = "; ".join(f"{n} (not set by {', '.join(ws)})" for n, ws in names.items())
        return Finding(
            id=finding_id(ID, fref, cause),
            playbook=ID,
            severity="info",
            object=fref,
            title=f"{len(names)} name(s) in {f.path} are not set in the cluster",
            explanation=(
                f"{f.path} lists names the workloads it describes do not set: {listing}. In the cluster the "
                "program runs with its defaults for them. Way out: set them in the workload's env or ConfigMap "
                f"if the default is wrong there, or drop them from {f.path} if nothing reads them any more."
            ),
            evidence=(Evidence("file", f"{f.path} lists {', '.join(names)}", f"file {f.path}", Location(f.path)),),
            location=Location(f.path),
            cause=cause,
        )


PLAYBOOK = EnvDrift()
