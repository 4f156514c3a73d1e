"""Owner-aware fixes: a change to a pod template becomes a live fix on the workload and a file fix.

A pod's problem is fixed where the pod comes from: its Deployment, StatefulSet,
DaemonSet, Job or CronJob template. Job templates (and bare Pods) are immutable, so
their live fix is a delete-and-recreate plan, shown as such. When the repository has
the workload's manifest, the same change is offered as a round-trip edit of that file.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson

from diagnostics.diffs import object_diff, unified
from diagnostics.findings import FileTarget, Fix, LivePlan, LiveTarget, Risk, stable_id

if TYPE_CHECKING:
    from diagnostics.repo import Repository

TEMPLATE_PATH: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
RECREATE_KINDS = frozenset({"Job", "Pod"})  # their pod templates are immutable
_SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_JOB_CONTROLLER_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")

PodSpecChange = Callable[[MutableMapping[str, Any]], None]


def pod_spec(obj: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The pod spec inside a workload (or a Pod), created empty where the manifest has none."""
    cur = obj
    for key in TEMPLATE_PATH.get(str(obj.get("kind")), ("spec", "template", "spec")):
        nxt = cur.get(key)
        if nxt is None:
            nxt = cur[key] = {}
        cur = nxt
    return cur


def clone(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return result


def for_recreate(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as it must be sent to be created anew: server-set fields and status removed.

    A Job's generated selector and controller-uid labels go too (the new Job gets a new uid);
    a manual selector stays.
    """
    out = clone(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    for k in _SERVER_FIELDS:
        meta.pop(k, None)
    (meta.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if out.get("kind") == "Job" and not out.get("spec", {}).get("manualSelector"):
        spec = out.setdefault("spec", {})
        spec.pop("selector", None)
        spec.pop("manualSelector", None)
        labels = spec.get("template", {}).get("metadata", {}).get("labels") or {}
        for k in _JOB_CONTROLLER_LABELS:
            labels.pop(k, None)
    if out.get("kind") == "Pod":
        out.get("spec", {}).pop("nodeName", None)
    return out


def template_fixes(
    workload: dict[str, Any],
    change: PodSpecChange,
    *,
    title: str,
    risk: Risk,
    notes: str,
    repo: Repository | None,
    key: str,
) -> tuple[Fix, ...]:
    """The live fix and, when the repository has the manifest, the file fix for one template change.

    `change` edits a pod spec in place; it must use only mapping/sequence operations so the
    same function edits the live dict and the ruamel document. `key` makes the fix ids stable.
    """
    meta = workload["metadata"]
    kind, ns, name = workload["kind"], meta.get("namespace"), meta["name"]
    after = clone(workload)
    change(pod_spec(after))
    if after == workload:
        return ()
    fixes: list[Fix] = []
    recreate = kind in RECREATE_KINDS
    live_notes = notes
    if recreate:
        after = for_recreate(after)
        what = "Job" if kind == "Job" else "Pod"
        live_notes = (
            f"A {what}'s pod template is immutable: applying deletes the {what} (and its pods) and "
            f"creates it again with this change. " + notes
        ).strip()
    elif kind == "CronJob":
        # the fix reaches the next run only: the Job already started keeps failing until it goes
        live_notes = (
            f"{notes} Jobs the CronJob already started ({name}-…) keep the old template and go on failing: "
            f"delete them and the next run uses this change, or start one now with "
            f"kubectl create job --from=cronjob/{name} {name}-fixed."
        ).strip()
    elif kind == "StatefulSet":
        # unlike a Deployment, a StatefulSet never replaces a pod that did not become ready
        how = (
            "Its updateStrategy is OnDelete: pods pick up this change only when deleted"
            if ((workload.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete"
            else "A StatefulSet rolls out only over pods that are Running and Ready: delete its pods that are "
            "stuck (Pending, crash-looping)"
        )
        live_notes = f"{notes} {how} (kubectl delete pod {name}-0 …), and they come back with this change.".strip()
    target = LiveTarget(workload.get("apiVersion", "v1"), kind, ns, name, meta.get("resourceVersion", ""))
    fixes.append(
        Fix(
            id=stable_id(key, "live", kind, ns or "", name),
            title=title + (f" (delete and recreate the {kind})" if recreate else ""),
            target=target,
            # a recreate sends the object without server-set fields: compare like with like
            diff=object_diff(for_recreate(workload) if recreate else workload, after, f"{kind.lower()}/{name}"),
            risk=risk,
            notes=live_notes,
            plan=LivePlan("recreate" if recreate else "replace", workload, after),
        )
    )
    if repo is not None:
        ref = repo.find(kind, ns or "", name)
        if ref is not None:
            plan = repo.edit(ref, lambda doc: change(pod_spec(doc)))
            if plan.after != plan.before:
                fixes.append(
                    Fix(
                        id=stable_id(key, "file", ref.path),
                        title=f"{title} in {ref.path}",
                        target=FileTarget(ref.path),
                        diff=unified(plan.before, plan.after, ref.path),
                        risk=risk,
                        notes=notes,
                        plan=plan,
                    )
                )
    return tuple(fixes)


def containers(spec: MutableMapping[str, Any]) -> list[MutableMapping[str, Any]]:
    """Init containers then containers, as the kubelet starts them."""
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
