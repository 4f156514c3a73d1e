"""The ReplicaSet controller: keep `spec.replicas` live pods, adopt matching orphans, report status."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from sandbox.controllers import podtemplate as pt
from sandbox.controllers.base import Context, Controller, Key
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind
from sandbox.selectors import labels_match, selector_from_label_selector

REPLICASET: ResourceType = by_kind("apps/v1", "ReplicaSet")  # type: ignore[assignment]
POD = pt.POD
COMPONENT = "replicaset-controller"
BURST = 500  # at most this many creations or deletions per sync, like the real controller


class ReplicaSetController(Controller):
    name = "replicaset"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._orphans: dict[str, dict[str, dict[str, Any]]] = {}  # namespace -> pod name -> pod without a controller
        for pod in self.store.list(POD):
            if pt.controller_of(pod) is None and not pt.is_terminal(pod):
                self._orphans.setdefault(pod["metadata"]["namespace"], {})[pod["metadata"]["name"]] = pod

    # --- watching --------------------------------------------------------------------------

    def initial_keys(self) -> list[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(REPLICASET)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is POD:
            self._on_pod(type_, obj, old)
        elif rt is REPLICASET:
            meta = obj["metadata"]
            if type_ == "DELETED":
                return
            if (
                old is None
                or old["metadata"].get("generation") != meta.get("generation")
                or old["metadata"].get("labels") != meta.get("labels")
            ):
                self.enqueue((meta["namespace"], meta["name"]))

    def _on_pod(self, type_: str, pod: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        ref = pt.controller_of(pod)
        old_ref = pt.controller_of(old)
        if ref is not None and ref.get("kind") == "ReplicaSet":
            self.enqueue((ns, ref["name"]))
        moved = ref is None or (old_ref is not None and old_ref.get("uid") != ref.get("uid"))
        if old_ref is not None and old_ref.get("kind") == "ReplicaSet" and moved:
            self.enqueue((ns, old_ref["name"]))
        orphans = self._orphans.setdefault(ns, {})
        if ref is None and type_ != "DELETED" and not pt.is_terminal(pod):
            changed = name not in orphans or (old is not None and old["metadata"].get("labels") != meta.get("labels"))
            orphans[name] = pod
            if changed:
                for rs in self.store.list(REPLICASET, ns):
                    if _selects(rs, meta.get("labels")):
                        self.enqueue((ns, rs["metadata"]["name"]))
        else:
            orphans.pop(name, None)

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        ns, name = key
        rs = self.store.get(REPLICASET, ns, name)
        if rs is None:
            return
        spec = rs.get("spec") or {}
        selector = spec.get("selector") or {}
        pods = self._claim(rs, selector)
        active = [p for p in pods if pt.is_active(p)]
        want = _int(spec.get("replicas"), 1)
        failure: str | None = None
        if not rs["metadata"].get("deletionTimestamp"):
            diff = len(active) - want
            if diff < 0:
                created, failure = self._create(rs, min(-diff, BURST))
                active.extend(created)
            elif diff > 0:
                victims = self._victims(active, diff)
                gone = self._delete(rs, victims)
                active = [p for p in active if p["metadata"]["uid"] not in gone]
        self._write_status(rs, active, failure)

    def _claim(self, rs: dict[str, Any], selector: dict[str, Any]) -> list[dict[str, Any]]:
        """Pods this ReplicaSet controls, after adopting matching orphans and releasing pods that stopped matching."""
        ns = rs["metadata"]["namespace"]
        uid = rs["metadata"]["uid"]
        try:
            sel = selector_from_label_selector(selector) if selector else None
        except (KeyError, TypeError, AttributeError):
            sel = None  # a malformed selector adopts nothing
        mine: list[dict[str, Any]] = []
        for pod in pt.owned(self.store, rs, "Pod"):
            if sel is not None and not labels_match(sel, pod["metadata"].get("labels")):
                self.store.mutate(POD, ns, pod["metadata"]["name"], lambda o: pt.without_owner(o, uid))
                continue
            mine.append(pod)
        if sel is None or rs["metadata"].get("deletionTimestamp"):
            return mine
        for pname, orphan in list(self._orphans.get(ns, {}).items()):
            if pt.is_terminating(orphan) or not labels_match(sel, orphan["metadata"].get("labels")):
                continue
            ref = pt.controller_ref(rs)

            def adopt(o: dict[str, Any], ref: dict[str, Any] = ref) -> None:
                if pt.controller_of(o) is None:
                    o["metadata"]["ownerReferences"] = [*(o["metadata"].get("ownerReferences") or []), ref]

            try:
                adopted = self.store.mutate(POD, ns, pname, adopt)
            except APIError:
                continue
            if adopted is not None and pt.controlled_by(adopted, uid):
                mine.append(adopted)
        return mine

    def _create(self, rs: dict[str, Any], count: int) -> tuple[list[dict[str, Any]], str | None]:
        template = (rs.get("spec") or {}).get("template") or {}
        prefix = pt.name_prefix(rs["metadata"]["name"])
        created: list[dict[str, Any]] = []
        for _ in range(count):
            try:
                pod = pt.create_generated(self.store, pt.new_pod(template, rs, prefix=prefix))
            except APIError as e:
                message = f"Error creating: {e.message}"
                self.recorder.record(rs, "Warning", "FailedCreate", message, component=COMPONENT)
                return created, e.message
            created.append(pod)
            self.recorder.record(
                rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", component=COMPONENT
            )
        return created, None

    def _victims(self, active: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
        colocated = Counter((p.get("spec") or {}).get("nodeName") or "" for p in active)
        return pt.deletion_order(active, colocated)[: min(count, BURST)]

    def _delete(self, rs: dict[str, Any], victims: list[dict[str, Any]]) -> set[str]:
        gone: set[str] = set()
        for pod in victims:
            meta = pod["metadata"]
            try:
                self.store.delete(POD, meta["namespace"], meta["name"])
            except APIError as e:
                if e.code != 404:
                    self.recorder.record(
                        rs, "Warning", "FailedDelete", f"Error deleting: {e.message}", component=COMPONENT
                    )
                    continue
            gone.add(meta["uid"])
            self.recorder.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}", component=COMPONENT)
        return gone

    def _write_status(self, rs: dict[str, Any], active: list[dict[str, Any]], failure: str | None) -> None:
        spec = rs.get("spec") or {}
        min_ready = _int(spec.get("minReadySeconds"), 0)
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        fully = ready = available = 0
        wait: float | None = None
        for p in active:
            labels = p["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully += 1
            left = pt.available_in(p, min_ready, self.clock)
            if left is None:
                continue
            ready += 1
            if left <= 0:
                available += 1
            else:
                wait = left if wait is None else min(wait, left)
        old = rs.get("status") or {}
        status: dict[str, Any] = {"replicas": len(active)}
        if fully:
            status["fullyLabeledReplicas"] = fully
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        conditions = [c for c in old.get("conditions") or () if c.get("type") != "ReplicaFailure"]
        prior = next((c for c in old.get("conditions") or () if c.get("type") == "ReplicaFailure"), None)
        if failure is not None:
            same = prior is not None and prior.get("message") == failure
            conditions.append(
                prior
                if same
                else {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": self.clock.stamp(),
                    "reason": "FailedCreate",
                    "message": failure,
                }
            )
        if conditions:
            status["conditions"] = conditions
        if status != old:
            meta = rs["metadata"]
            self.store.mutate(
                REPLICASET,
                meta["namespace"],
                meta["name"],
                lambda o: o.__setitem__("status", copy.deepcopy(status)),
                subresource="status",
            )
        if wait is not None:
            self.requeue_after((rs["metadata"]["namespace"], rs["metadata"]["name"]), wait + 0.5)


def _selects(rs: dict[str, Any], labels: dict[str, str] | None) -> bool:
    selector = (rs.get("spec") or {}).get("selector")
    if not selector:
        return False
    try:
        return labels_match(selector_from_label_selector(selector), labels)
    except (KeyError, TypeError, AttributeError):
        return False


def _int(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
