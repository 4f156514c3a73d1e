"""A migration Job derived from a live Deployment: its image, env, references and scheduling, one container, run once.

`generate(deployment, snapshot, repo, command)` is the whole feature for every front (the
`--generate-migration-job` command line, the console's offer on a Deployment). It answers
`GeneratedJob` -- the manifest, the repository file it goes to, the plan and diff for that
file, notes for the operator -- or `Refused`, one sentence per reason the Job would fail.
`GeneratedJob.finding()` wraps the file change as a finding with one file fix, so the
generic apply/journal/undo machinery (`diagnostics.apply.Applier`) writes and undoes it.

For the console: pass the Deployment dict and a snapshot holding its namespace's `KINDS`
(the watch cache has them) with `ctx.repo`; show `diff` and `notes`, or each of
`Refused.problems`; apply `finding().fixes[0]` like any file fix. Its playbook id is not in
the catalogue, so there is nothing to re-run or verify after writing.

The surprising parts:

- Only the container that runs the app is copied: the one the pod template's
  `kubectl.kubernetes.io/default-container` annotation names, else the one named like the
  Deployment (`backend` in `coditect-backend`), else the first. Sidecars and init
  containers are left out (a sidecar that never exits keeps a Job from completing), and
  so are ports, probes, lifecycle hooks and pod annotations (injected sidecars); the notes
  say what was left out. `command` is replaced and `args` dropped: a Deployment's args
  would be appended to the migration command.
- Only the volumes the copied container mounts come along, and pod (anti-)affinity terms
  that select the Deployment's own pods are dropped: copied onto the Job they would keep
  its pod off every node the app runs on. The Job's labels never match the Deployment's
  selector, so its Service never routes traffic to the migration pod.
- Every Secret, ConfigMap, ServiceAccount and PersistentVolumeClaim the Job would
  reference is checked against the snapshot (Secrets as key names only); optional
  references are not. A kind the snapshot could not read is a note ("could not check"),
  never a silent pass.
- Where it goes: an existing migration Job of the Deployment (`<deployment>-migrate`,
  `-migration`, `-migrations`, in the repository or else in the cluster) gives the name; a
  repository manifest of that Job is edited round-trip (comments, key order, its own
  Job-level settings such as `backoffLimit` and its pod annotations kept; the pod template
  replaced). Values the API server defaulted in the live Deployment (`dnsPolicy:
  ClusterFirst`, `imagePullPolicy` matching the tag, ...) are not written out. Otherwise a
  new file `<name>.yaml` next to the Deployment's manifest (`k8s/<namespace>/` when the
  repository has none).
"""

from __future__ import annotations

import io
import posixpath
import re
import shlex
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter

from diagnostics.diffs import unified
from diagnostics.findings import FilePlan, FileTarget, Finding, Fix, ObjectRef, finding_id, stable_id
from diagnostics.fixes import clone
from diagnostics.repo import ManifestRef, Repository, RepositoryError
from diagnostics.snapshot import Snapshot, selector_matches

ID = "generate-migration-job"
DEFAULT_COMMAND: tuple[str, ...] = ("python", "manage.py", "migrate", "--noinput")
BACKOFF_LIMIT = 2
TTL_SECONDS_AFTER_FINISHED = 86400  # a day: long enough to read the logs of a failed run
CONTAINER_NAME = "migrate"
NAME_SUFFIXES = ("-migrate", "-migration", "-migrations")  # the names a Deployment's migration Job goes by
DEPLOYMENT_LABEL = "pitstop.dev/deployment"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
# what `generate` reads from the snapshot: the kinds the Job references, and Jobs for the name
KINDS: tuple[str, ...] = ("Secret", "ConfigMap", "ServiceAccount", "PersistentVolumeClaim", "Job")

# pod spec fields the migration needs to run where and as the app runs
_POD_FIELDS = (
    "serviceAccountName",
    "automountServiceAccountToken",
    "nodeSelector",
    "affinity",
    "tolerations",
    "imagePullSecrets",
    "securityContext",
    "priorityClassName",
    "runtimeClassName",
    "schedulerName",
    "hostAliases",
    "dnsPolicy",
    "dnsConfig",
    "enableServiceLinks",
)
_CONTAINER_FIELDS = (
    "image",
    "imagePullPolicy",
    "workingDir",
    "envFrom",
    "env",
    "volumeMounts",
    "volumeDevices",
    "resources",
    "securityContext",
)
_LEFT_OUT = ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle")
# values the API server fills in when a template leaves them out: noise in a manifest file
_POD_DEFAULTS = {"dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "enableServiceLinks": True}
_DEFAULT_MODE = 420
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_AMBIGUOUS = re.compile(r"(?i:y|n|yes|no|on|off|true|false|null|~)")


@dataclass(frozen=True, slots=True)
class Problem:
    """A reason the generated Job would fail: what it names (`kind`, `name`, `key`) and one sentence with the way out."""

    kind: str  # Secret | ConfigMap | ServiceAccount | PersistentVolumeClaim | Deployment | File
    name: str
    key: str | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Refused:
    """No Job was generated: these problems would make it fail (or could not be written)."""

    deployment: ObjectRef
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class GeneratedJob:
    """The Job derived from `deployment` and where it goes in the repository.

    `plan` is the file change (`before` None: a new file) and `diff` its unified diff, ""
    when the file already holds exactly this Job. `container` names the Deployment's
    container that was copied; `notes` say what was left out or could not be checked.
    """

    deployment: ObjectRef
    job: dict[str, Any]
    container: str
    path: str
    plan: FilePlan
    diff: str
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"])

    @property
    def fix(self) -> Fix:
        """The file fix writing the Job: an edit of the existing manifest or a new file (never an overwrite)."""
        new = self.plan.before is None
        return Fix(
            id=stable_id(ID, "file", self.path),
            title=f"{'Create' if new else 'Update'} migration Job {self.name} in {self.path}",
            target=FileTarget(self.path, create=new),
            diff=self.diff,
            risk="low",
            notes=" ".join(self.notes),
            plan=self.plan,
        )

    def finding(self) -> Finding:
        """The generated Job as a finding with its file fix: what `Applier.apply` and the console's fix review take.

        Its playbook id is not in the catalogue: after writing there is nothing to re-run or verify.
        """
        ref = self.deployment
        return Finding(
            id=finding_id(ID, ref, f"job:{self.name}"),
            playbook=ID,
            severity="info",
            object=ref,
            title=f"Migration Job {self.name} generated from Deployment {ref.name}",
            explanation=(
                f"Runs {shlex.join(command_of(self.job))} once with the image, env, Secret and ConfigMap "
                f"references, volumes and scheduling of container {self.container} of {ref}."
            ),
            fixes=(self.fix,),
            cause=f"job:{self.name}",
        )


def command_of(job: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in job["spec"]["template"]["spec"]["containers"][0].get("command") or ()]


def is_name(name: str) -> bool:
    """True for an RFC 1123 subdomain (what Deployment and Job names must be)."""
    return len(name) <= 253 and _SUBDOMAIN.fullmatch(name) is not None


def not_found(name: str, namespace: str) -> str:
    """The sentence for a Deployment that is not there."""
    return (
        f"Deployment {name} not found in namespace {namespace}; "
        f"list the Deployments there with kubectl get deploy -n {namespace}"
    )


def job_name(deployment: str, suffix: str = NAME_SUFFIXES[0]) -> str:
    """`<deployment><suffix>` as a DNS-1123 label of at most 63 characters (a Job's pods carry it as a label value)."""
    base = deployment.replace(".", "-")[: 63 - len(suffix)].rstrip("-")
    return base + suffix


# --- the manifest ------------------------------------------------------------------------------


def app_container(deployment: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The container that runs the app: the default-container annotation's, the one named like the Deployment, or the first."""
    template = (deployment.get("spec") or {}).get("template") or {}
    containers: list[Mapping[str, Any]] = (template.get("spec") or {}).get("containers") or []
    if not containers:
        return None
    named = ((template.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    name = str((deployment.get("metadata") or {}).get("name") or "")
    for wanted in (named, name):
        for c in containers:
            if wanted and c.get("name") == wanted:
                return c
    for c in containers:
        if c.get("name") and name.endswith("-" + str(c["name"])):
            return c
    return containers[0]


def _default_pull_policy(image: str) -> str:
    """`Always` for `:latest` or untagged images, else `IfNotPresent`: what the API server fills in."""
    name = image.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ("" if "@" in image else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def _undefaulted(spec: dict[str, Any]) -> None:
    """Drop from a generated pod spec the values the API server defaulted in the live Deployment."""
    for key, value in _POD_DEFAULTS.items():
        if spec.get(key) == value:
            del spec[key]
    for key in [k for k, v in spec.items() if v in ({}, [], None)]:
        del spec[key]
    for c in spec.get("containers") or ():
        if c.get("imagePullPolicy") == _default_pull_policy(str(c.get("image") or "")):
            del c["imagePullPolicy"]
        for key in [k for k, v in c.items() if v in ({}, [], None)]:
            del c[key]
        for var in c.get("env") or ():
            ref = (var.get("valueFrom") or {}).get("fieldRef")
            if isinstance(ref, dict) and ref.get("apiVersion") == "v1":
                del ref["apiVersion"]
    for vol in spec.get("volumes") or ():
        for kind in ("secret", "configMap", "downwardAPI", "projected"):
            source = vol.get(kind)
            if isinstance(source, dict) and source.get("defaultMode") == _DEFAULT_MODE:
                del source["defaultMode"]
        for source in (vol.get("projected") or {}).get("sources") or ():
            token = source.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") == 3600:
                del token["expirationSeconds"]
        if (vol.get("hostPath") or {}).get("type") == "":
            del vol["hostPath"]["type"]


def _own_pods(term: Mapping[str, Any], pod_labels: Mapping[str, str]) -> bool:
    selector = term.get("labelSelector")
    return isinstance(selector, Mapping) and selector_matches(selector, pod_labels)


def _affinity(affinity: Mapping[str, Any], pod_labels: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """`affinity` without pod (anti-)affinity terms selecting the Deployment's own pods; and how many were dropped."""
    out: dict[str, Any] = {}
    dropped = 0
    for kind, rules in affinity.items():
        if kind not in ("podAffinity", "podAntiAffinity") or not isinstance(rules, Mapping):
            out[kind] = clone({"v": rules})["v"]
            continue
        kept: dict[str, Any] = {}
        for when, terms in rules.items():
            keep = [
                t
                for t in terms or ()
                if not _own_pods(t.get("podAffinityTerm", t) if isinstance(t, Mapping) else {}, pod_labels)
            ]
            dropped += len(terms or ()) - len(keep)
            if keep:
                kept[when] = clone({"v": keep})["v"]
        if kept:
            out[kind] = kept
    return out, dropped


def _labels(deployment: Mapping[str, Any], name: str) -> dict[str, str]:
    """Labels naming the Job, its part and its Deployment, that never match the Deployment's own selector."""
    meta = deployment.get("metadata") or {}
    dep = str(meta.get("name"))
    labels = {"app.kubernetes.io/name": name}
    part_of = (meta.get("labels") or {}).get("app.kubernetes.io/part-of")
    if part_of:
        labels["app.kubernetes.io/part-of"] = str(part_of)
    labels["app.kubernetes.io/component"] = "migration"
    if len(dep) <= 63:
        labels[DEPLOYMENT_LABEL] = dep
    selector = (deployment.get("spec") or {}).get("selector") or {}
    if selector and selector_matches(selector, labels):
        labels.pop("app.kubernetes.io/part-of", None)
    return labels


def build_job(
    deployment: Mapping[str, Any], command: Sequence[str], name: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The Job manifest running `command` in the Deployment's app container, and notes on what was left out.

    Pure: reads only `deployment`. `ValueError` when the Deployment has no container.
    """
    meta = deployment.get("metadata") or {}
    dep, ns = str(meta.get("name")), meta.get("namespace")
    template = (deployment.get("spec") or {}).get("template") or {}
    pod = template.get("spec") or {}
    app = app_container(deployment)
    if app is None:
        raise ValueError(f"Deployment {ns}/{dep} has no container to copy; check its pod template")
    notes: list[str] = []
    container: dict[str, Any] = {"name": CONTAINER_NAME, "image": app.get("image"), "command": list(command)}
    for key, value in app.items():
        if key in _CONTAINER_FIELDS and key != "image":
            container[key] = clone({"v": value})["v"]
    if not app.get("command"):
        notes.append(
            f"Container {app.get('name')} runs its image's own ENTRYPOINT; the Job's command replaces it, so put "
            "whatever that entrypoint prepares for the program into --command."
        )
    left_out = [k for k in _LEFT_OUT if app.get(k)]
    others = [str(c.get("name")) for c in pod.get("containers") or () if c is not app]
    inits = [str(c.get("name")) for c in pod.get("initContainers") or ()]
    if others or inits:
        what = ", ".join([*(f"container {n}" for n in others), *(f"init container {n}" for n in inits)])
        notes.append(
            f"Left out {what}: a sidecar that never exits keeps a Job from completing; add back what the "
            "migration needs (a database proxy as a native sidecar, for one)."
        )
    if left_out:
        notes.append(f"Left out the {', '.join(left_out)} of container {app.get('name')}: a Job serves no traffic.")

    labels = _labels(deployment, name)
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    spec: dict[str, Any] = {}
    for key, value in pod.items():
        if key == "serviceAccount" and "serviceAccountName" not in pod:
            spec["serviceAccountName"] = value  # the deprecated alias
        elif key == "affinity" and isinstance(value, Mapping):
            affinity, dropped = _affinity(value, pod_labels)
            if affinity:
                spec["affinity"] = affinity
            if dropped:
                notes.append(
                    f"Dropped {dropped} pod (anti-)affinity term(s) selecting the Deployment's own pods: "
                    "they would keep the Job's pod away from (or tied to) the app's."
                )
        elif key in _POD_FIELDS:
            spec[key] = clone({"v": value})["v"]
    spec["restartPolicy"] = "Never"
    spec["containers"] = [container]
    mounted = {m.get("name") for m in app.get("volumeMounts") or ()} | {
        d.get("name") for d in app.get("volumeDevices") or ()
    }
    volumes = [clone(v) for v in pod.get("volumes") or () if v.get("name") in mounted]
    if volumes:
        spec["volumes"] = volumes
    _undefaulted(spec)
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    copied_elsewhere = {DEFAULT_CONTAINER}
    if set(annotations) - copied_elsewhere:
        notes.append(
            f"Left out the pod annotations ({', '.join(sorted(set(annotations) - copied_elsewhere))}): "
            "injected sidecars keep a Job from completing; add those the migration needs."
        )
    job_meta: dict[str, Any] = {"name": name}
    if ns:
        job_meta["namespace"] = ns
    job_meta["labels"] = dict(labels)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "template": {"metadata": {"labels": dict(labels)}, "spec": spec},
        },
    }
    return job, tuple(notes)


# --- references --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ref:
    kind: str
    name: str
    key: str | None
    where: str
    optional: bool


def _refs(spec: Mapping[str, Any]) -> list[_Ref]:
    out: list[_Ref] = []
    for c in spec.get("containers") or ():
        for env in c.get("env") or ():
            vf = env.get("valueFrom") or {}
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                r = vf.get(field)
                if r and r.get("name"):
                    out.append(_Ref(kind, r["name"], r.get("key"), f"env {env.get('name')}", bool(r.get("optional"))))
        for src in c.get("envFrom") or ():
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                r = src.get(field)
                if r and r.get("name"):
                    out.append(_Ref(kind, r["name"], None, "envFrom", bool(r.get("optional"))))
    for vol in spec.get("volumes") or ():
        where = f"volume {vol.get('name')}"
        sources = [vol, *((vol.get("projected") or {}).get("sources") or ())]
        for src in sources:
            for field, kind, name_field in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
                s = src.get(field)
                if not s:
                    continue
                obj = s.get(name_field) or s.get("name")
                if not obj:
                    continue
                optional = bool(s.get("optional"))
                out.append(_Ref(kind, obj, None, where, optional))
                out += [_Ref(kind, obj, i.get("key"), where, optional) for i in s.get("items") or () if i.get("key")]
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            out.append(_Ref("PersistentVolumeClaim", claim, None, where, False))
    account = spec.get("serviceAccountName")
    if account and account != "default":  # every namespace has `default`
        out.append(_Ref("ServiceAccount", account, None, "serviceAccountName", False))
    return out


def _keys(obj: Mapping[str, Any]) -> list[str]:
    return sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})


def check(job: Mapping[str, Any], snapshot: Snapshot, deployment: str) -> tuple[list[Problem], list[str]]:
    """Problems with what the Job references (missing objects and keys), and notes on what could not be checked."""
    ns = str(job["metadata"].get("namespace") or "default")
    spec = job["spec"]["template"]["spec"]
    problems: list[Problem] = []
    unchecked: dict[str, int] = {}
    seen: set[tuple[str, str, str | None]] = set()
    way_out = f"fix Deployment {deployment} first (pitstop --playbook secret-missing proposes the change), then generate again"
    for r in _refs(spec):
        if r.optional or (r.kind, r.name, r.key) in seen:
            continue
        seen.add((r.kind, r.name, r.key))
        if not snapshot.has(r.kind):
            unchecked[r.kind] = unchecked.get(r.kind, 0) + 1
            continue
        obj = snapshot.get(r.kind, ns, r.name)
        if obj is None:
            if r.kind in ("Secret", "ConfigMap"):
                message = f'{r.kind.lower()} "{r.name}" not found in namespace {ns}, which {r.where} reads; create it or {way_out}'
            elif r.kind == "ServiceAccount":
                message = (
                    f'ServiceAccount "{r.name}" not found in namespace {ns}, so the Job could not create its pod; '
                    f"create it or fix the serviceAccountName of Deployment {deployment} first"
                )
            else:
                message = (
                    f'PersistentVolumeClaim "{r.name}" not found in namespace {ns}, which {r.where} mounts; '
                    f"create it or fix Deployment {deployment} first"
                )
            problems.append(Problem(r.kind, r.name, None, message))
        elif r.key is not None and r.kind in ("Secret", "ConfigMap") and r.key not in _keys(obj):
            have = ", ".join(_keys(obj)) or "none"
            problems.append(
                Problem(
                    r.kind,
                    r.name,
                    r.key,
                    f"couldn't find key {r.key} in {r.kind} {ns}/{r.name}, which {r.where} reads (its keys: {have}); "
                    f"{way_out}",
                )
            )
    notes = [
        f"Could not check {n} reference(s) to {kind}s in {ns} ({_why(snapshot, kind)}); the Job may still fail on them."
        for kind, n in sorted(unchecked.items())
    ]
    for ps in spec.get("imagePullSecrets") or ():
        name = ps.get("name")
        if name and snapshot.has("Secret") and snapshot.get("Secret", ns, name) is None:
            notes.append(f'imagePullSecrets names Secret "{name}", which does not exist in {ns}: pulls go without it.')
    return problems, notes


def _why(snapshot: Snapshot, kind: str) -> str:
    if kind in snapshot.forbidden:
        return "forbidden"
    return snapshot.errors.get(kind) or "not read"


# --- the file ----------------------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """Quotes strings YAML 1.1 readers (kubectl) would take for booleans or null, like `yes` or `on`."""

    def represent_str(self, data: str) -> Any:
        if _AMBIGUOUS.fullmatch(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_Representer.add_representer(str, _Representer.represent_str)


def render(job: Mapping[str, Any], deployment: ObjectRef) -> str:
    """The Job as a new manifest file, with a header saying where it came from and how to make it again."""
    y = YAML(typ="rt")
    y.Representer = _Representer
    y.width = 1 << 16
    y.indent(mapping=2, sequence=4, offset=2)
    data = clone(dict(job))
    for c in data["spec"]["template"]["spec"]["containers"]:
        if isinstance(c.get("command"), list):  # one line, as people write commands
            c["command"] = CommentedSeq(c["command"])
            c["command"].fa.set_flow_style()
    buf = io.StringIO()
    y.dump(data, buf)
    command = command_of(job)
    shown = shlex.join(command)
    again = f"pitstop --generate-migration-job {deployment.name} -n {deployment.namespace}"
    if tuple(command) != DEFAULT_COMMAND:
        again += f" --command {shlex.quote(shown)}"

    def one_line(text: str) -> str:  # a line break inside the command must not end the comment
        return text.replace("\r", "\\r").replace("\n", "\\n")

    return (
        f"# Runs {one_line(shown)} once, with the image, env, references and scheduling of\n"
        f"# {deployment}. Generated by: {one_line(again)}\n" + buf.getvalue()
    )


def _sync(doc: MutableMapping[str, Any], new: Mapping[str, Any]) -> None:
    """Make `doc` (a round-trip mapping) equal `new`, keeping the nodes (and their comments) that already match."""
    for k in [k for k in doc if k not in new]:
        del doc[k]
    previous: str | None = None
    for k, v in new.items():
        if k in doc:
            synced = _synced(doc[k], v)
            if synced is not doc[k]:
                doc[k] = synced
        elif isinstance(doc, CommentedMap):
            doc.insert(0 if previous is None else list(doc).index(previous) + 1, k, v)
        else:
            doc[k] = v
        previous = k


def _synced(old: Any, new: Any) -> Any:
    if isinstance(old, MutableMapping) and isinstance(new, Mapping):
        _sync(old, new)
        return old
    if isinstance(old, MutableSequence) and isinstance(new, list):
        # lists of named entries (env, volumes, volumeMounts) are matched by name, others by position
        named = all(isinstance(x, Mapping) and "name" in x for x in [*old, *new])
        by_name = {x["name"]: x for x in old} if named else {}
        items = []
        for i, n in enumerate(new):
            if named:
                items.append(_synced(by_name[n["name"]], n) if n["name"] in by_name else n)
            else:
                items.append(_synced(old[i], n) if i < len(old) else n)
        for i, item in enumerate(items):
            if i >= len(old):
                old.append(item)
            elif old[i] is not item:
                old[i] = item
        while len(old) > len(items):
            old.pop()
        return old
    if old == new and isinstance(old, bool) == isinstance(new, bool):
        return old  # keeps the file's quoting and style
    return new


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _with_existing(job: dict[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """The generated Job keeping what the existing manifest chose for the Job itself.

    Kept: its Job-level settings (backoffLimit, activeDeadlineSeconds, ...), labels and
    annotations, its pod annotations (`sidecar.istio.io/inject: "false"` is set for Jobs on
    purpose), and the absence of `metadata.namespace` (a kustomization may set it).
    """
    out = clone(job)
    old_meta = existing.get("metadata") or {}
    for field in ("labels", "annotations"):
        if isinstance(old_meta.get(field), Mapping):
            out["metadata"][field] = {**old_meta[field], **out["metadata"].get(field, {})}
    if "namespace" not in old_meta:
        out["metadata"].pop("namespace", None)
    old_spec = existing.get("spec") or {}
    kept = {k: v for k, v in old_spec.items() if k not in ("template", "selector", "manualSelector")}
    template = out["spec"]["template"]
    old_annotations = ((old_spec.get("template") or {}).get("metadata") or {}).get("annotations")
    if isinstance(old_annotations, Mapping) and old_annotations:
        template["metadata"]["annotations"] = dict(old_annotations)
    out["spec"] = {**out["spec"], **kept, "template": template}
    return out


def _place(
    job: dict[str, Any], ref: ObjectRef, repo: Repository | None
) -> tuple[str, FilePlan, dict[str, Any]] | Problem:
    """Where the Job goes, the file change, and the Job as written (existing Job-level settings kept)."""
    name, ns = job["metadata"]["name"], ref.namespace or "default"
    existing: ManifestRef | None = repo.find("Job", ns, name) if repo is not None else None
    try:
        if repo is not None and existing is not None:
            merged = _with_existing(job, _plain(repo.document(existing)))
            plan = repo.edit(existing, lambda doc: _sync(doc, merged))
            return existing.path, plan, merged
        home = repo.find("Deployment", ns, ref.name) if repo is not None else None
        folder = posixpath.dirname(home.path) if home is not None else f"k8s/{ns}"
        path = posixpath.join(folder, f"{name}.yaml")
        text = render(job, ref)
        return path, (repo.new_file(path, text) if repo is not None else FilePlan(None, text)), job
    except RepositoryError as e:
        return Problem("File", name, None, str(e))


def pick_name(deployment: Mapping[str, Any], snapshot: Snapshot, repo: Repository | None) -> str:
    """The name of the Deployment's existing migration Job (repository first, then cluster), else `<deployment>-migrate`."""
    meta = deployment.get("metadata") or {}
    dep, ns = str(meta.get("name")), str(meta.get("namespace") or "default")
    candidates = [job_name(dep, s) for s in NAME_SUFFIXES]
    if repo is not None:
        for c in candidates:
            if repo.find("Job", ns, c) is not None:
                return c
    for c in candidates:
        if snapshot.get("Job", ns, c) is not None:
            return c
    return candidates[0]


def generate(
    deployment: Mapping[str, Any],
    snapshot: Snapshot,
    repo: Repository | None,
    command: Sequence[str] | None = None,
) -> GeneratedJob | Refused:
    """The migration Job for `deployment` (a live Deployment object) checked against `snapshot`, placed in `repo`.

    `command` defaults to Django's `python manage.py migrate --noinput`. `snapshot` must
    hold the Deployment's namespace's `KINDS`. Nothing is written: apply
    `GeneratedJob.finding()`'s fix to write it. `Refused` when a reference the Job needs
    is missing or the repository file cannot take it.
    """
    meta = deployment.get("metadata") or {}
    ref = ObjectRef("Deployment", str(meta.get("name")), str(meta.get("namespace") or "default"))
    name = pick_name(deployment, snapshot, repo)
    try:
        job, notes = build_job(deployment, command or DEFAULT_COMMAND, name)
    except ValueError as e:
        return Refused(ref, (Problem("Deployment", ref.name, None, str(e)),))
    problems, unchecked = check(job, snapshot, ref.name)
    if problems:
        return Refused(ref, tuple(problems))
    placed = _place(job, ref, repo)
    if isinstance(placed, Problem):
        return Refused(ref, (placed,))
    path, plan, written = placed
    ns = ref.namespace
    live = snapshot.get("Job", ns, name)
    if live is not None:
        unchecked.append(
            f"Job {name} already exists in {ns} and a Job's pod template cannot change: "
            f"kubectl delete job {name} -n {ns} before kubectl apply -f {path}."
        )
    app = app_container(deployment) or {}
    return GeneratedJob(
        ref,
        written,
        str(app.get("name")),
        path,
        plan,
        unified(plan.before, plan.after, path),
        (*notes, *unchecked),
    )
