"""The StatefulSet controller: pods with stable names `<set>-<ordinal>`, their claims, ordered rollouts.

As in kube-controller-manager: OrderedReady creates one pod at a time and waits for it to
be Running and Ready (and scales down from the highest ordinal, one at a time), Parallel
does not wait; claims `<template>-<set>-<ordinal>` are made before their pod; failed pods
are deleted and recreated; RollingUpdate replaces pods from the highest ordinal down to
the partition, one at a time. Revisions are named `<set>-<hash>` like ControllerRevisions.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.controllers import podtemplate as pt
from sandbox.controllers.base import Context, Controller, Key
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind
from sandbox.selectors import labels_match, selector_from_label_selector

STATEFULSET: ResourceType = by_kind("apps/v1", "StatefulSet")  # type: ignore[assignment]
PVC: ResourceType = by_kind("v1", "PersistentVolumeClaim")  # type: ignore[assignment]
POD = pt.POD
COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


class StatefulSetController(Controller):
    name = "statefulset"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._templates: dict[tuple[str, str], dict[str, Any]] = {}  # (set uid, revision) -> pod template

    # --- watching --------------------------------------------------------------------------

    def initial_keys(self) -> list[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(STATEFULSET)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is POD:
            ns = obj["metadata"].get("namespace", "")
            ref, old_ref = pt.controller_of(obj), pt.controller_of(old)
            for r in (ref, old_ref):
                if r is not None and r.get("kind") == "StatefulSet":
                    self.enqueue((ns, r["name"]))
            if ref is None and type_ != "DELETED":
                parent = obj["metadata"]["name"].rpartition("-")[0]
                if parent and self.store.get(STATEFULSET, ns, parent) is not None:
                    self.enqueue((ns, parent))
        elif rt is STATEFULSET:
            meta = obj["metadata"]
            if type_ == "DELETED":
                uid = meta.get("uid")
                for k in [k for k in self._templates if k[0] == uid]:
                    del self._templates[k]
            elif old is None or old["metadata"].get("generation") != meta.get("generation"):
                self.enqueue((meta["namespace"], meta["name"]))

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        ns, name = key
        sts = self.store.get(STATEFULSET, ns, name)
        if sts is None:
            return
        spec = sts.get("spec") or {}
        uid = sts["metadata"]["uid"]
        template = spec.get("template") or {}
        status = sts.get("status") or {}
        update_rev = f"{name}-{pt.template_hash(template, status.get('collisionCount'))}"
        current_rev = status.get("currentRevision") or update_rev
        self._templates[(uid, update_rev)] = template
        replicas = _int(spec.get("replicas"), 1)
        start = _int((spec.get("ordinals") or {}).get("start"), 0)
        monotonic = spec.get("podManagementPolicy") != "Parallel"
        slots, condemned = self._pods(sts, start, replicas)
        if not sts["metadata"].get("deletionTimestamp"):
            self._update(sts, slots, condemned, start, replicas, monotonic, current_rev, update_rev)
        self._write_status(sts, start, replicas, current_rev, update_rev)

    def _pods(
        self, sts: dict[str, Any], start: int, replicas: int
    ) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
        """Claimed pods by ordinal, and those beyond the wanted range (highest ordinal first)."""
        name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
        uid = sts["metadata"]["uid"]
        try:
            sel = selector_from_label_selector((sts.get("spec") or {}).get("selector") or {})
        except (KeyError, TypeError, AttributeError):
            sel = None
        pods = pt.owned(self.store, sts, "Pod")
        if sel and not sts["metadata"].get("deletionTimestamp"):
            owned_names = {p["metadata"]["name"] for p in pods}
            for i in range(start, start + replicas):
                pod_name = f"{name}-{i}"
                if pod_name in owned_names:
                    continue
                orphan = self.store.get(POD, ns, pod_name)
                if orphan is None or pt.controller_of(orphan) is not None or pt.is_terminating(orphan):
                    continue
                if not labels_match(sel, orphan["metadata"].get("labels")):
                    continue
                ref = pt.controller_ref(sts)
                adopted = self.store.mutate(
                    POD,
                    ns,
                    pod_name,
                    lambda o, ref=ref: o["metadata"].__setitem__(
                        "ownerReferences", [*(o["metadata"].get("ownerReferences") or []), ref]
                    ),
                )
                if adopted is not None and pt.controlled_by(adopted, uid):
                    pods.append(adopted)
        slots: dict[int, dict[str, Any]] = {}
        condemned: list[tuple[int, dict[str, Any]]] = []
        for p in pods:
            ordinal = _ordinal(name, p["metadata"]["name"])
            if ordinal is None:
                continue
            if start <= ordinal < start + replicas:
                slots[ordinal] = p
            else:
                condemned.append((ordinal, p))
        condemned.sort(key=lambda t: -t[0])
        return slots, [p for _, p in condemned]

    def _update(
        self,
        sts: dict[str, Any],
        slots: dict[int, dict[str, Any]],
        condemned: list[dict[str, Any]],
        start: int,
        replicas: int,
        monotonic: bool,
        current_rev: str,
        update_rev: str,
    ) -> None:
        spec = sts.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = _int((strategy.get("rollingUpdate") or {}).get("partition"), 0) if rolling else 0
        uid = sts["metadata"]["uid"]
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        min_ready = _int(spec.get("minReadySeconds"), 0)

        def healthy(p: dict[str, Any]) -> bool:
            if not pt.is_running_and_ready(p) or pt.is_terminating(p):
                return False
            left = pt.available_in(p, min_ready, self.clock)
            if left and left > 0:
                self.requeue_after((ns, name), left + 0.5)
                return False
            return True

        for ordinal in range(start, start + replicas):
            pod = slots.get(ordinal)
            if pod is not None and pt.is_terminal(pod):
                failed = pt.phase(pod) == "Failed"
                self.recorder.record(
                    sts,
                    "Warning",
                    "RecreatingFailedPod" if failed else "RecreatingTerminatedPod",
                    f"StatefulSet {ns}/{name} is recreating {'failed' if failed else 'terminated'} Pod {pod['metadata']['name']}",
                    component=COMPONENT,
                )
                if not self._delete_pod(sts, pod):
                    return
                pod = None
            if pod is None:
                # pods below the partition keep the current revision (when its template is known)
                rev = update_rev
                if rolling and ordinal - start < partition and (uid, current_rev) in self._templates:
                    rev = current_rev
                created = self._create_pod(
                    sts, ordinal, rev, self._templates.get((uid, rev)) or spec.get("template") or {}
                )
                if created is None or monotonic:
                    return
                slots[ordinal] = created
                continue
            if pt.is_terminating(pod) and monotonic:
                return
            self._ensure_claims(sts, ordinal, pod["metadata"]["name"])
            if monotonic and not healthy(pod):
                return
        for pod in condemned:
            if pt.is_terminating(pod):
                if monotonic:
                    return
                continue
            if monotonic and not all(healthy(p) for p in slots.values()):
                return
            if not self._delete_pod(sts, pod):
                return
            if monotonic:
                return
        if not rolling:
            return
        for ordinal in range(start + replicas - 1, start + partition - 1, -1):
            pod = slots.get(ordinal)
            if pod is None:
                return
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != update_rev and not pt.is_terminating(pod):
                self._delete_pod(sts, pod)
                return
            if not healthy(pod):
                return

    def _create_pod(
        self, sts: dict[str, Any], ordinal: int, rev: str, template: dict[str, Any]
    ) -> dict[str, Any] | None:
        name = sts["metadata"]["name"]
        pod_name = f"{name}-{ordinal}"
        spec = sts.get("spec") or {}
        pod_spec = copy.deepcopy(template.get("spec") or {})
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        claims = self._ensure_claims(sts, ordinal, pod_name)
        if claims is None:
            return None
        if claims:
            volumes = [v for v in pod_spec.get("volumes") or () if v.get("name") not in claims]
            pod_spec["volumes"] = volumes + [
                {"name": vol, "persistentVolumeClaim": {"claimName": claim}} for vol, claim in claims.items()
            ]
        pod = pt.new_pod(
            {**template, "spec": pod_spec},
            sts,
            name=pod_name,
            labels={REVISION_LABEL: rev, POD_NAME_LABEL: pod_name, POD_INDEX_LABEL: str(ordinal)},
        )
        try:
            created = self.store.create(POD, pod)
        except APIError as e:
            self.recorder.record(
                sts,
                "Warning",
                "FailedCreate",
                f"create Pod {pod_name} in StatefulSet {name} failed error: {e.message}",
                component=COMPONENT,
            )
            return None
        self.recorder.record(
            sts,
            "Normal",
            "SuccessfulCreate",
            f"create Pod {pod_name} in StatefulSet {name} successful",
            component=COMPONENT,
        )
        return created

    def _ensure_claims(self, sts: dict[str, Any], ordinal: int, pod_name: str) -> dict[str, str] | None:
        """Volume name -> claim name for this ordinal, creating missing claims; None when one cannot be made."""
        spec = sts.get("spec") or {}
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        out: dict[str, str] = {}
        delete_with_set = ((spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")) == "Delete"
        for tmpl in spec.get("volumeClaimTemplates") or ():
            tmeta = tmpl.get("metadata") or {}
            vol = tmeta.get("name")
            if not vol:
                continue
            claim = f"{vol}-{name}-{ordinal}"
            out[vol] = claim
            if self.store.get(PVC, ns, claim) is not None:
                continue
            labels = {**(tmeta.get("labels") or {}), **(((spec.get("selector") or {}).get("matchLabels")) or {})}
            meta: dict[str, Any] = {"name": claim, "namespace": ns}
            if labels:
                meta["labels"] = labels
            if tmeta.get("annotations"):
                meta["annotations"] = dict(tmeta["annotations"])
            if delete_with_set:
                meta["ownerReferences"] = [pt.controller_ref(sts)]
            try:
                self.store.create(PVC, {"metadata": meta, "spec": copy.deepcopy(tmpl.get("spec") or {})})
            except APIError as e:
                if e.code == 409:
                    continue
                self.recorder.record(
                    sts,
                    "Warning",
                    "FailedCreate",
                    f"create Claim {claim} for Pod {pod_name} in StatefulSet {name} failed error: {e.message}",
                    component=COMPONENT,
                )
                return None
            self.recorder.record(
                sts,
                "Normal",
                "SuccessfulCreate",
                f"create Claim {claim} Pod {pod_name} in StatefulSet {name} success",
                component=COMPONENT,
            )
        return out

    def _delete_pod(self, sts: dict[str, Any], pod: dict[str, Any]) -> bool:
        meta = pod["metadata"]
        try:
            self.store.delete(POD, meta["namespace"], meta["name"])
        except APIError as e:
            if e.code != 404:
                self.recorder.record(
                    sts,
                    "Warning",
                    "FailedDelete",
                    f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} failed error: {e.message}",
                    component=COMPONENT,
                )
                return False
        self.recorder.record(
            sts,
            "Normal",
            "SuccessfulDelete",
            f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful",
            component=COMPONENT,
        )
        return True

    def _write_status(self, sts: dict[str, Any], start: int, replicas: int, current_rev: str, update_rev: str) -> None:
        spec = sts.get("spec") or {}
        name = sts["metadata"]["name"]
        min_ready = _int(spec.get("minReadySeconds"), 0)
        count = ready = available = current = updated = 0
        for p in pt.owned(self.store, sts, "Pod"):
            if _ordinal(name, p["metadata"]["name"]) is None or pt.is_terminating(p):
                continue
            count += 1
            if pt.is_running_and_ready(p):
                ready += 1
                left = pt.available_in(p, min_ready, self.clock)
                if left is not None and left <= 0:
                    available += 1
            rev = (p["metadata"].get("labels") or {}).get(REVISION_LABEL)
            if rev == current_rev:
                current += 1
            if rev == update_rev:
                updated += 1
        strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate" and updated == replicas and ready == replicas and count == replicas:
            current_rev, current = update_rev, updated
        old = sts.get("status") or {}
        status: dict[str, Any] = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": count}
        for k, v in (("readyReplicas", ready), ("currentReplicas", current), ("updatedReplicas", updated)):
            if v:
                status[k] = v
        status["currentRevision"] = current_rev
        status["updateRevision"] = update_rev
        status["collisionCount"] = _int(old.get("collisionCount"), 0)
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        status["availableReplicas"] = available
        if status != old:
            ns = sts["metadata"]["namespace"]
            self.store.mutate(STATEFULSET, ns, name, lambda o: o.__setitem__("status", status), subresource="status")


def _ordinal(set_name: str, pod_name: str) -> int | None:
    prefix, _, suffix = pod_name.rpartition("-")
    if prefix != set_name or not suffix.isdigit():
        return None
    return int(suffix)


def _int(value: Any, default: int) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
