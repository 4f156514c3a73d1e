"""The Deployment controller: one ReplicaSet per pod template, rolling or recreating between them.

It follows kube-controller-manager's deployment controller step by step (revisions and
their annotations, maxSurge/maxUnavailable with Kubernetes' rounding, proportional
scaling, history cleanup, the Available/Progressing conditions and their messages) so
that `kubectl rollout status|undo|history` and describe output read as on a cluster.
Deadlines (progressDeadlineSeconds) run on the fast clock.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.controllers import podtemplate as pt
from sandbox.controllers import simtime
from sandbox.controllers.base import Context, Controller, Key
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind
from sandbox.selectors import labels_match, selector_from_label_selector

DEPLOYMENT: ResourceType = by_kind("apps/v1", "Deployment")  # type: ignore[assignment]
REPLICASET: ResourceType = by_kind("apps/v1", "ReplicaSet")  # type: ignore[assignment]
COMPONENT = "deployment-controller"

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
_MAX_HISTORY_CHARS = 2000
_NO_DEADLINE = 2**31 - 1

# condition reasons, as in k8s.io/kubernetes/pkg/controller/deployment/util
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "FailedRSCreate"


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._orphans: dict[str, dict[str, dict[str, Any]]] = {}  # namespace -> name -> ReplicaSet without a controller
        for rs in self.store.list(REPLICASET):
            if pt.controller_of(rs) is None:
                self._orphans.setdefault(rs["metadata"]["namespace"], {})[rs["metadata"]["name"]] = rs

    # --- watching --------------------------------------------------------------------------

    def initial_keys(self) -> list[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(DEPLOYMENT)]

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is REPLICASET:
            self._on_replicaset(type_, obj, old)
        elif rt is DEPLOYMENT and type_ != "DELETED":
            meta = obj["metadata"]
            if (
                old is None
                or old["metadata"].get("generation") != meta.get("generation")
                or old["metadata"].get("annotations") != meta.get("annotations")
            ):
                self.enqueue((meta["namespace"], meta["name"]))

    def _on_replicaset(self, type_: str, rs: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = rs["metadata"]
        ns = meta["namespace"]
        ref, old_ref = pt.controller_of(rs), pt.controller_of(old)
        for r in (ref, old_ref):
            if r is not None and r.get("kind") == "Deployment":
                self.enqueue((ns, r["name"]))
        orphans = self._orphans.setdefault(ns, {})
        if ref is None and type_ != "DELETED":
            orphans[meta["name"]] = rs
            for d in self.store.list(DEPLOYMENT, ns):
                if _selects(d, meta.get("labels")):
                    self.enqueue((ns, d["metadata"]["name"]))
        else:
            orphans.pop(meta["name"], None)

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        ns, name = key
        current = self.store.get(DEPLOYMENT, ns, name)
        if current is None:
            return
        _Sync(self, copy.deepcopy(current)).run()


class _Sync:
    """One pass of the deployment controller over one Deployment (`d` is a working copy)."""

    def __init__(self, c: DeploymentController, d: dict[str, Any]) -> None:
        self.c, self.store, self.clock = c, c.store, c.clock
        self.d = d
        self.ns, self.name = d["metadata"]["namespace"], d["metadata"]["name"]
        d.setdefault("spec", {})
        d.setdefault("status", {})
        d["metadata"].setdefault("annotations", {})
        self.replicas = _int(d["spec"].get("replicas"), 1)
        self.rs: dict[str, dict[str, Any]] = {}  # name -> current ReplicaSet object

    # --- entry -----------------------------------------------------------------------------

    def run(self) -> None:
        d = self.d
        selector = d["spec"].get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            self.c.recorder.record(
                d,
                "Warning",
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
                component=COMPONENT,
            )
            if d["status"].get("observedGeneration", 0) < d["metadata"].get("generation", 1):
                d["status"]["observedGeneration"] = d["metadata"].get("generation", 1)
                self._save(status=True)
            return
        for rs in self._claim(selector):
            self.rs[rs["metadata"]["name"]] = rs
        if d["metadata"].get("deletionTimestamp"):
            new, old = self._all_replicasets(create=False)
            self._sync_status(new, old)
            return
        self._check_paused_conditions()
        if d["spec"].get("paused"):
            self._sync()
            return
        if self._is_scaling_event():
            self._sync()
            return
        if _strategy(d) == "Recreate":
            self._rollout_recreate()
        else:
            self._rollout_rolling()

    def _claim(self, selector: dict[str, Any]) -> list[dict[str, Any]]:
        uid = self.d["metadata"]["uid"]
        try:
            sel = selector_from_label_selector(selector)
        except (KeyError, TypeError, AttributeError):
            return pt.owned(self.store, self.d, "ReplicaSet")
        mine = []
        for rs in pt.owned(self.store, self.d, "ReplicaSet"):
            if labels_match(sel, rs["metadata"].get("labels")):
                mine.append(rs)
            else:
                self.store.mutate(REPLICASET, self.ns, rs["metadata"]["name"], lambda o: pt.without_owner(o, uid))
        for rs_name, orphan in list(self.c._orphans.get(self.ns, {}).items()):
            if pt.is_terminating(orphan) or not labels_match(sel, orphan["metadata"].get("labels")):
                continue
            ref = pt.controller_ref(self.d)

            def adopt(o: dict[str, Any], ref: dict[str, Any] = ref) -> None:
                if pt.controller_of(o) is None:
                    o["metadata"]["ownerReferences"] = [*(o["metadata"].get("ownerReferences") or []), ref]

            try:
                adopted = self.store.mutate(REPLICASET, self.ns, rs_name, adopt)
            except APIError:
                continue
            if adopted is not None and pt.controlled_by(adopted, uid):
                mine.append(adopted)
        return mine

    # --- strategies ------------------------------------------------------------------------

    def _rollout_rolling(self) -> None:
        new, old = self._all_replicasets(create=True)
        if new is None:
            self._sync_rollout_status(None, old)
            return
        if self._reconcile_new(new):
            self._sync_rollout_status(self._new(new), self._fresh(old))
            return
        new = self._new(new)
        old = self._fresh(old)
        if self._reconcile_old(new, old):
            self._sync_rollout_status(self._new(new), self._fresh(old))
            return
        if _complete(self.d, self.d["status"], self.replicas):
            self._cleanup(self._fresh(old))
        self._sync_rollout_status(self._new(new), self._fresh(old))

    def _rollout_recreate(self) -> None:
        new, old = self._all_replicasets(create=False)
        scaled = False
        for rs in _active(old):
            scaled |= self._scale(rs, 0)
        if scaled:
            self._sync_rollout_status(self._latest(new), self._fresh(old))
            return
        if self._old_pods_running(new, self._fresh(old)):
            self._sync_rollout_status(self._latest(new), self._fresh(old))
            return
        if new is None:
            new, old = self._all_replicasets(create=True)
            if new is None:
                self._sync_rollout_status(None, old)
                return
        self._scale(self._new(new), self.replicas)
        if _complete(self.d, self.d["status"], self.replicas):
            self._cleanup(self._fresh(old))
        self._sync_rollout_status(self._new(new), self._fresh(old))

    def _sync(self) -> None:
        """Scaling events and paused Deployments: resize, without rolling anything."""
        new, old = self._all_replicasets(create=False)
        self._proportional_scale(new, old)
        if self.d["spec"].get("paused"):
            self._cleanup(self._fresh(old))
        self._sync_status(self._latest(new), self._fresh(old))

    def _old_pods_running(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> bool:
        if any(_status_int(rs, "replicas") > 0 for rs in old):
            return True
        new_uid = new["metadata"]["uid"] if new else None
        for rs in old:
            if rs["metadata"]["uid"] == new_uid:
                continue
            if any(not pt.is_terminal(p) for p in pt.owned(self.store, rs, "Pod")):
                return True
        return False

    # --- the new ReplicaSet ----------------------------------------------------------------

    def _all_replicasets(self, *, create: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The new ReplicaSet (created when asked) and all old ones, with revisions synced."""
        existing = self._find_new()
        old = [
            rs for rs in self.rs.values() if existing is None or rs["metadata"]["name"] != existing["metadata"]["name"]
        ]
        new = self._get_new(existing, old, create)
        if new is not None:
            old = [rs for rs in old if rs["metadata"]["name"] != new["metadata"]["name"]]
        return new, old

    def _find_new(self) -> dict[str, Any] | None:
        template = self.d["spec"].get("template") or {}
        for rs in _by_creation(list(self.rs.values())):
            if pt.templates_equal_ignoring_hash((rs.get("spec") or {}).get("template"), template):
                return rs
        return None

    def _get_new(
        self, existing: dict[str, Any] | None, old: list[dict[str, Any]], create: bool
    ) -> dict[str, Any] | None:
        d = self.d
        new_revision = str(max((_revision(rs) for rs in old), default=0) + 1)
        if existing is not None:
            rs_copy = copy.deepcopy(existing)
            changed = self._set_new_rs_annotations(rs_copy, new_revision, exists=True)
            min_ready = _int(d["spec"].get("minReadySeconds"), 0)
            if changed or _int((rs_copy.get("spec") or {}).get("minReadySeconds"), 0) != min_ready:
                _set_min_ready(rs_copy, min_ready)
                updated = self.store.update(REPLICASET, rs_copy)
                self.rs[updated["metadata"]["name"]] = updated
                return updated
            revision_changed = self._set_revision(rs_copy["metadata"].get("annotations", {}).get(REVISION, ""))
            status_changed = False
            if _has_deadline(d) and _condition(d["status"], "Progressing") is None:
                msg = f'Found new replica set "{rs_copy["metadata"]["name"]}"'
                _set_condition(d["status"], self._condition("Progressing", "True", FOUND_NEW_RS, msg))
                status_changed = True
            self._save(annotations=revision_changed, status=status_changed)
            return existing
        if not create:
            return None

        collision = d["status"].get("collisionCount")
        template = copy.deepcopy(d["spec"].get("template") or {})
        hash_ = pt.template_hash(template, collision)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), pt.HASH_LABEL: hash_}
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), pt.HASH_LABEL: hash_}
        rs_name = f"{self.name}-{hash_}"
        new_rs: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": self.ns,
                "labels": dict(tmeta["labels"]),
                "annotations": {},
                "ownerReferences": [pt.controller_ref(d)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        _set_min_ready(new_rs, _int(d["spec"].get("minReadySeconds"), 0))
        new_rs["spec"]["replicas"] = self._new_rs_new_replicas([*old, new_rs], new_rs)
        self._set_new_rs_annotations(new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created = self.store.create(REPLICASET, new_rs)
        except APIError as e:
            if e.code != 409:
                msg = f'Failed to create new replica set "{rs_name}": {e.message}'
                if _has_deadline(d):
                    _set_condition(d["status"], self._condition("Progressing", "False", FAILED_RS_CREATE, msg))
                    self._save(status=True)
                self.c.recorder.record(d, "Warning", FAILED_RS_CREATE, msg, component=COMPONENT)
                return None
            clash = self.store.get(REPLICASET, self.ns, rs_name)
            if (
                clash is not None
                and pt.controlled_by(clash, d["metadata"]["uid"])
                and pt.templates_equal_ignoring_hash(
                    (clash.get("spec") or {}).get("template"), d["spec"].get("template")
                )
            ):
                created, already_exists = clash, True
            else:
                # a hash collision: bump collisionCount so the next hash differs, and try again
                d["status"]["collisionCount"] = (collision or 0) + 1
                self._save(status=True)
                self.c.enqueue((self.ns, self.name))
                return None
        self.rs[created["metadata"]["name"]] = created
        replicas = _spec_replicas(created)
        if not already_exists and replicas > 0:
            self.c.recorder.record(
                d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {rs_name} to {replicas}", component=COMPONENT
            )
        revision_changed = self._set_revision(new_revision)
        status_changed = False
        if not already_exists and _has_deadline(d):
            msg = f'Created new replica set "{rs_name}"'
            _set_condition(d["status"], self._condition("Progressing", "True", NEW_RS_CREATED, msg))
            status_changed = True
        self._save(annotations=revision_changed, status=status_changed)
        return created

    def _set_new_rs_annotations(self, rs: dict[str, Any], new_revision: str, *, exists: bool) -> bool:
        d_ann = self.d["metadata"].get("annotations") or {}
        ann = rs["metadata"].setdefault("annotations", {})
        changed = False
        for k, v in d_ann.items():
            if k in _NOT_COPIED or ann.get(k) == v:
                continue
            ann[k] = v
            changed = True
        old_revision = ann.get(REVISION)
        try:
            old_int = int(old_revision) if old_revision else 0
        except ValueError:
            return changed
        new_int = int(new_revision)
        if old_int < new_int:
            ann[REVISION] = new_revision
            changed = True
            if old_revision:
                history = ann.get(REVISION_HISTORY, "")
                entries = [h for h in history.split(",") if h] + [old_revision]
                while len(",".join(entries)) > _MAX_HISTORY_CHARS and len(entries) > 1:
                    entries.pop(0)
                ann[REVISION_HISTORY] = ",".join(entries)
        if not exists and self._set_replicas_annotations(rs):
            changed = True
        return changed

    def _set_replicas_annotations(self, rs: dict[str, Any]) -> bool:
        ann = rs["metadata"].setdefault("annotations", {})
        desired, most = str(self.replicas), str(self.replicas + self._max_surge())
        changed = ann.get(DESIRED_REPLICAS) != desired or ann.get(MAX_REPLICAS) != most
        ann[DESIRED_REPLICAS], ann[MAX_REPLICAS] = desired, most
        return changed

    def _set_revision(self, revision: str) -> bool:
        ann = self.d["metadata"].setdefault("annotations", {})
        if ann.get(REVISION) == revision:
            return False
        ann[REVISION] = revision
        return True

    # --- scaling ---------------------------------------------------------------------------

    def _new_rs_new_replicas(self, all_rs: list[dict[str, Any]], new: dict[str, Any]) -> int:
        if _strategy(self.d) != "RollingUpdate":
            return self.replicas
        surge = _scaled(_rolling(self.d).get("maxSurge", "25%"), self.replicas, round_up=True)
        current = sum(_spec_replicas(rs) for rs in all_rs)
        most = self.replicas + surge
        if current >= most:
            return _spec_replicas(new)
        up = min(most - current, self.replicas - _spec_replicas(new))
        return _spec_replicas(new) + up

    def _reconcile_new(self, new: dict[str, Any]) -> bool:
        have = _spec_replicas(new)
        if have == self.replicas:
            return False
        if have > self.replicas:
            return self._scale(new, self.replicas)
        all_rs = list(self.rs.values())
        return self._scale(new, self._new_rs_new_replicas(all_rs, new))

    def _reconcile_old(self, new: dict[str, Any], old: list[dict[str, Any]]) -> bool:
        active_old = _active(old)
        if sum(_spec_replicas(rs) for rs in active_old) == 0:
            return False
        all_count = sum(_spec_replicas(rs) for rs in [*old, new])
        min_available = self.replicas - self._max_unavailable()
        new_unavailable = _spec_replicas(new) - _status_int(new, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self._cleanup_unhealthy(active_old, max_scaled_down)
        scaled = self._scale_down_old(new, [self._new(rs) for rs in active_old])
        return cleaned + scaled > 0

    def _cleanup_unhealthy(self, old: list[dict[str, Any]], most: int) -> int:
        total = 0
        for rs in _by_creation(old):
            if total >= most:
                break
            rs = self._new(rs)
            want, available = _spec_replicas(rs), _status_int(rs, "availableReplicas")
            if want == 0 or want == available:
                continue
            down = min(most - total, want - available)
            self._scale(rs, want - down)
            total += down
        return total

    def _scale_down_old(self, new: dict[str, Any], old: list[dict[str, Any]]) -> int:
        min_available = self.replicas - self._max_unavailable()
        available = sum(_status_int(rs, "availableReplicas") for rs in [*old, new])
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in _by_creation(old):
            if total >= budget:
                break
            rs = self._new(rs)
            want = _spec_replicas(rs)
            if want == 0:
                continue
            down = min(want, budget - total)
            self._scale(rs, want - down)
            total += down
        return total

    def _proportional_scale(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> None:
        target = _active_or_latest(new, old)
        if target is not None:
            if _spec_replicas(target) != self.replicas:
                self._scale(target, self.replicas)
            return
        if new is not None and self._saturated(new):
            for rs in _active(old):
                self._scale(rs, 0)
            return
        if _strategy(self.d) != "RollingUpdate":
            return
        all_rs = _active([*old, *([new] if new else [])])
        total = sum(_spec_replicas(rs) for rs in all_rs)
        allowed = self.replicas + self._max_surge() if self.replicas > 0 else 0
        to_add = allowed - total
        if to_add > 0:
            all_rs = _by_size(all_rs, newer_first=True)
            operation = "up"
        elif to_add < 0:
            all_rs = _by_size(all_rs, newer_first=False)
            operation = "down"
        else:
            operation = ""
        sizes: dict[str, int] = {}
        added = 0
        for rs in all_rs:
            if to_add != 0:
                share = self._proportion(rs, to_add, added)
                sizes[rs["metadata"]["name"]] = _spec_replicas(rs) + share
                added += share
            else:
                sizes[rs["metadata"]["name"]] = _spec_replicas(rs)
        for i, rs in enumerate(all_rs):
            rs_name = rs["metadata"]["name"]
            if i == 0 and to_add != 0:
                sizes[rs_name] = max(0, sizes[rs_name] + to_add - added)
            self._scale(rs, sizes[rs_name], operation or None)

    def _proportion(self, rs: dict[str, Any], to_add: int, added: int) -> int:
        have = _spec_replicas(rs)
        if have == 0 or to_add == 0 or to_add == added:
            return 0
        if self.replicas == 0:
            fraction = -have
        else:
            wanted = self.replicas + self._max_surge()
            try:
                annotated = int((rs["metadata"].get("annotations") or {})[MAX_REPLICAS])
            except (KeyError, ValueError):
                annotated = _int(self.d["status"].get("replicas"), 0)
            if annotated == 0:
                return 0
            fraction = _round_half_away(have * wanted / annotated) - have
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _saturated(self, rs: dict[str, Any]) -> bool:
        try:
            desired = int((rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS, ""))
        except ValueError:
            return False
        return (
            _spec_replicas(rs) == self.replicas
            and desired == self.replicas
            and _status_int(rs, "availableReplicas") == self.replicas
        )

    def _scale(self, rs: dict[str, Any], replicas: int, operation: str | None = None) -> bool:
        """Resize `rs` (and refresh its replica annotations); True when its size changed."""
        rs = self._new(rs)
        before = _spec_replicas(rs)
        if operation is None:
            if before == replicas:
                return False
            operation = "up" if before < replicas else "down"
        desired, most = str(self.replicas), str(self.replicas + self._max_surge())
        ann = rs["metadata"].get("annotations") or {}
        if before == replicas and ann.get(DESIRED_REPLICAS) == desired and ann.get(MAX_REPLICAS) == most:
            return False

        def change(o: dict[str, Any]) -> None:
            o.setdefault("spec", {})["replicas"] = replicas
            ann = o["metadata"].setdefault("annotations", {})
            ann[DESIRED_REPLICAS], ann[MAX_REPLICAS] = desired, most

        updated = self.store.mutate(REPLICASET, self.ns, rs["metadata"]["name"], change)
        if updated is None:
            return False
        self.rs[updated["metadata"]["name"]] = updated
        if before == replicas:
            return False
        self.c.recorder.record(
            self.d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {operation} replica set {rs['metadata']['name']} to {replicas} from {before}",
            component=COMPONENT,
        )
        return True

    def _is_scaling_event(self) -> bool:
        new, old = self._all_replicasets(create=False)
        for rs in _active([*old, *([new] if new else [])]):
            try:
                desired = int((rs["metadata"].get("annotations") or {})[DESIRED_REPLICAS])
            except (KeyError, ValueError):
                continue
            if desired != self.replicas:
                return True
        return False

    def _max_surge(self) -> int:
        if _strategy(self.d) != "RollingUpdate":
            return 0
        return self._fenceposts()[0]

    def _max_unavailable(self) -> int:
        if _strategy(self.d) != "RollingUpdate" or self.replicas == 0:
            return 0
        return min(self._fenceposts()[1], self.replicas)

    def _fenceposts(self) -> tuple[int, int]:
        ru = _rolling(self.d)
        surge = _scaled(ru.get("maxSurge", "25%"), self.replicas, round_up=True)
        unavailable = _scaled(ru.get("maxUnavailable", "25%"), self.replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1  # otherwise a rollout could never make progress
        return surge, unavailable

    # --- history ---------------------------------------------------------------------------

    def _cleanup(self, old: list[dict[str, Any]]) -> None:
        limit = self.d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        surplus = len(cleanable) - _int(limit, 10)
        if surplus <= 0:
            return
        for rs in sorted(cleanable, key=lambda r: (_revision(r), r["metadata"].get("creationTimestamp", "")))[:surplus]:
            status = rs.get("status") or {}
            if _int(status.get("replicas"), 0) != 0 or _spec_replicas(rs) != 0:
                continue
            if rs["metadata"].get("generation", 1) > _int(status.get("observedGeneration"), 0):
                continue
            try:
                self.store.delete(REPLICASET, self.ns, rs["metadata"]["name"])
            except APIError:
                continue
            self.rs.pop(rs["metadata"]["name"], None)

    # --- status ----------------------------------------------------------------------------

    def _check_paused_conditions(self) -> None:
        d = self.d
        if not _has_deadline(d):
            return
        cond = _condition(d["status"], "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return
        paused_exists = cond is not None and cond.get("reason") == PAUSED
        if d["spec"].get("paused") and not paused_exists:
            _set_condition(d["status"], self._condition("Progressing", "Unknown", PAUSED, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_exists:
            _set_condition(d["status"], self._condition("Progressing", "Unknown", RESUMED, "Deployment is resumed"))
        else:
            return
        self._save(status=True)

    def _calculate_status(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> dict[str, Any]:
        all_rs = [*old, *([new] if new else [])]
        available = sum(_status_int(rs, "availableReplicas") for rs in all_rs)
        total = sum(_spec_replicas(rs) for rs in all_rs)
        counts = {
            "observedGeneration": self.d["metadata"].get("generation", 1),
            "replicas": sum(_status_int(rs, "replicas") for rs in all_rs),
            "updatedReplicas": _status_int(new, "replicas") if new else 0,
            "readyReplicas": sum(_status_int(rs, "readyReplicas") for rs in all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
        }
        status: dict[str, Any] = {k: v for k, v in counts.items() if v}
        conditions = copy.deepcopy((self.d["status"] or {}).get("conditions") or [])
        if conditions:
            status["conditions"] = conditions
        if available >= self.replicas - self._max_unavailable():
            cond = self._condition(
                "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
            )
        else:
            cond = self._condition(
                "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
            )
        _set_condition(status, cond)
        if "collisionCount" in self.d["status"]:
            status["collisionCount"] = self.d["status"]["collisionCount"]
        return status

    def _sync_status(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> None:
        status = self._calculate_status(new, old)
        if status != self.d["status"]:
            self.d["status"] = status
            self._save(status=True)

    def _sync_rollout_status(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> None:
        d = self.d
        status = self._calculate_status(new, old)
        if not _has_deadline(d):
            _remove_condition(status, "Progressing")
        current = _condition(d["status"], "Progressing")
        complete_before = (
            _int(status.get("replicas"), 0) == _int(status.get("updatedReplicas"), 0)
            and current is not None
            and current.get("reason") == NEW_RS_AVAILABLE
        )
        if _has_deadline(d) and not complete_before:
            rs_name = new["metadata"]["name"] if new else None
            if _complete(d, status, self.replicas):
                msg = (
                    f'ReplicaSet "{rs_name}" has successfully progressed.'
                    if rs_name
                    else f'Deployment "{self.name}" has successfully progressed.'
                )
                _set_condition(status, self._condition("Progressing", "True", NEW_RS_AVAILABLE, msg))
            elif _progressing(d["status"], status):
                msg = (
                    f'ReplicaSet "{rs_name}" is progressing.'
                    if rs_name
                    else f'Deployment "{self.name}" is progressing.'
                )
                cond = self._condition("Progressing", "True", RS_UPDATED, msg)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
                    _remove_condition(status, "Progressing")
                _set_condition(status, cond)
            elif self._timed_out(status):
                msg = (
                    f'ReplicaSet "{rs_name}" has timed out progressing.'
                    if rs_name
                    else f'Deployment "{self.name}" has timed out progressing.'
                )
                _set_condition(status, self._condition("Progressing", "False", TIMED_OUT, msg))
        failures = self._replica_failures(new, old)
        if failures:
            _set_condition(status, failures[0])
        else:
            _remove_condition(status, "ReplicaFailure")
        if status != d["status"]:
            d["status"] = status
            self._save(status=True)
            limit = d["spec"].get("revisionHistoryLimit")
            if limit is not None and len(old) > _int(limit, 10) and _complete(d, status, self.replicas):
                self.c.enqueue((self.ns, self.name))  # as the status update's watch event would: now history can go
        self._requeue_if_stuck(status)

    def _timed_out(self, status: dict[str, Any]) -> bool:
        cond = _condition(status, "Progressing")
        if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
            return False
        if cond.get("reason") == TIMED_OUT:
            return True
        deadline = _int(self.d["spec"].get("progressDeadlineSeconds"), 600)
        return simtime.elapsed(self.clock, cond.get("lastUpdateTime")) > deadline

    def _requeue_if_stuck(self, status: dict[str, Any]) -> None:
        d = self.d
        cond = _condition(status, "Progressing")
        if not _has_deadline(d) or cond is None:
            return
        if _complete(d, status, self.replicas) or cond.get("reason") == TIMED_OUT:
            return
        deadline = _int(d["spec"].get("progressDeadlineSeconds"), 600)
        wait = simtime.left(self.clock, cond.get("lastUpdateTime"), deadline)
        self.c.requeue_after((self.ns, self.name), max(wait, 0.0) + 1.0)

    def _replica_failures(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def of(rs: dict[str, Any] | None) -> list[dict[str, Any]]:
            out = []
            for c in ((rs or {}).get("status") or {}).get("conditions") or ():
                if c.get("type") == "ReplicaFailure":
                    t = c.get("lastTransitionTime") or self.clock.stamp()
                    out.append(
                        {
                            "type": "ReplicaFailure",
                            "status": c.get("status", "True"),
                            "lastUpdateTime": t,
                            "lastTransitionTime": t,
                            "reason": c.get("reason", ""),
                            "message": c.get("message", ""),
                        }
                    )
            return out

        found = of(new)
        if found:
            return found
        for rs in [*old, *([new] if new else [])]:
            found.extend(of(rs))
        return found

    def _condition(self, type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        now = self.clock.stamp()
        return {
            "type": type_,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    # --- writing ---------------------------------------------------------------------------

    def _save(self, *, annotations: bool = False, status: bool = False) -> None:
        d = self.d
        if annotations:
            ann = dict(d["metadata"].get("annotations") or {})
            self.store.mutate(DEPLOYMENT, self.ns, self.name, lambda o: o["metadata"].__setitem__("annotations", ann))
        if status:
            st = copy.deepcopy(d["status"])
            self.store.mutate(
                DEPLOYMENT, self.ns, self.name, lambda o: o.__setitem__("status", st), subresource="status"
            )

    def _new(self, rs: dict[str, Any]) -> dict[str, Any]:
        """The latest version of `rs` seen in this pass."""
        return self.rs.get(rs["metadata"]["name"], rs)

    def _latest(self, rs: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if rs is None else self._new(rs)

    def _fresh(self, rss: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.rs[r["metadata"]["name"]] for r in rss if r["metadata"]["name"] in self.rs]


# --- pure helpers ----------------------------------------------------------------------------


def _int(value: Any, default: int) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _spec_replicas(rs: dict[str, Any] | None) -> int:
    return _int(((rs or {}).get("spec") or {}).get("replicas"), 1)


def _status_int(rs: dict[str, Any] | None, field: str) -> int:
    return _int(((rs or {}).get("status") or {}).get(field), 0)


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def _strategy(d: dict[str, Any]) -> str:
    return str(((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate")


def _rolling(d: dict[str, Any]) -> dict[str, Any]:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    """An int-or-percent against `total`, rounded as Kubernetes rounds it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                pct = int(text[:-1])
            except ValueError:
                return 0
            return -(-pct * total // 100) if round_up else pct * total // 100
        try:
            return int(text)
        except ValueError:
            return 0
    return 0


def _round_half_away(x: float) -> int:
    return int(x - 0.5) if x < 0 else int(x + 0.5)


def _has_deadline(d: dict[str, Any]) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    return pds is not None and _int(pds, 600) != _NO_DEADLINE


def _complete(d: dict[str, Any], status: dict[str, Any], replicas: int) -> bool:
    return (
        _int(status.get("updatedReplicas"), 0) == replicas
        and _int(status.get("replicas"), 0) == replicas
        and _int(status.get("availableReplicas"), 0) == replicas
        and _int(status.get("observedGeneration"), 0) >= d["metadata"].get("generation", 1)
    )


def _progressing(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def g(s: dict[str, Any], k: str) -> int:
        return _int(s.get(k), 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new, "replicas") - g(new, "updatedReplicas")
    return (
        g(new, "updatedReplicas") > g(old, "updatedReplicas")
        or new_old < old_old
        or g(new, "readyReplicas") > g(old, "readyReplicas")
        or g(new, "availableReplicas") > g(old, "availableReplicas")
    )


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def _set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """Kubernetes' SetDeploymentCondition: no-op on same status+reason, keeps the transition time on same status."""
    cur = _condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond["lastTransitionTime"] = cur.get("lastTransitionTime", cond["lastTransitionTime"])
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != cond["type"]] + [cond]


def _remove_condition(status: dict[str, Any], type_: str) -> None:
    if "conditions" in status:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != type_]
        if not status["conditions"]:
            del status["conditions"]


def _set_min_ready(rs: dict[str, Any], seconds: int) -> None:
    spec = rs.setdefault("spec", {})
    if seconds:
        spec["minReadySeconds"] = seconds
    else:
        spec.pop("minReadySeconds", None)


def _active(rss: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rs for rs in rss if rs is not None and _spec_replicas(rs) > 0]


def _by_creation(rss: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # same-second creations (common on the fast clock) fall back to revision order, then name
    return sorted(rss, key=lambda r: (r["metadata"].get("creationTimestamp", ""), _revision(r), r["metadata"]["name"]))


def _by_size(rss: list[dict[str, Any]], *, newer_first: bool) -> list[dict[str, Any]]:
    ordered = _by_creation(rss)
    if newer_first:
        ordered.reverse()
    return sorted(ordered, key=lambda r: -_spec_replicas(r))  # stable: ties keep the age order


def _active_or_latest(new: dict[str, Any] | None, old: list[dict[str, Any]]) -> dict[str, Any] | None:
    if new is None and not old:
        return None
    newest_first = list(reversed(_by_creation(old)))
    active = _active([*newest_first, *([new] if new else [])])
    if not active:
        return new if new is not None else newest_first[0]
    if len(active) == 1:
        return active[0]
    return None


def _selects(d: dict[str, Any], labels: dict[str, str] | None) -> bool:
    selector = (d.get("spec") or {}).get("selector")
    if not selector:
        return False
    try:
        return labels_match(selector_from_label_selector(selector), labels)
    except (KeyError, TypeError, AttributeError):
        return False
