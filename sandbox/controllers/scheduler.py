"""The default scheduler: filter nodes, score the feasible ones, bind -- or say why not.

Filters run per node in the order of the real default profile (NodeUnschedulable,
TaintToleration, NodeAffinity, NodeResourcesFit); the first failing one gives that
node's reasons. VolumeBinding is a pre-filter: a missing or unbound claim fails the
pod on every node at once. The message is the real FitError text
(`0/N nodes are available: <reasons>. preemption: <post-filter>`), counted per reason
and sorted; the sandbox never evicts, so the preemption half always reports the
dry run's verdict.

Node requests are kept incrementally from store changes (pod uid → node and
requests), so scheduling one pod costs one pass over the nodes, never over pods.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.controllers.base import Context, Controller, Key
from sandbox.controllers.pvc import STORAGE_CLASSES
from sandbox.resources import ResourceType

SCHEDULER_NAME = "default-scheduler"
RETRY_KEY: Key = ("\x00scheduler", "retry-unschedulable")
RETRY_PERIOD = 60.0  # simulated seconds between flushes of the unschedulable queue
RETRY_SOON = 1.0  # after a cluster change that may help
SPREAD_WEIGHT = 25.0  # score lost per pod of the same controller already on a node

# defaults the scheduler uses for scoring containers that request nothing
_NONZERO_CPU = 100  # millicores
_NONZERO_MEM = 200 * 1024 * 1024

R_UNSCHEDULABLE = "node(s) were unschedulable"
R_TAINT = "node(s) had untolerated taint(s)"
R_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
R_TOO_MANY_PODS = "Too many pods"
P_NOT_HELPFUL = "Preemption is not helpful for scheduling"
P_NO_VICTIMS = "No preemption victims found for incoming pod"
NO_NODES = "no nodes available to schedule pods"

_NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def parse_quantity(value: Any) -> Decimal:
    """A resource quantity as a Decimal (0 for anything unparsable: validation refuses those earlier)."""
    from sandbox.validation import parse_quantity as parse

    try:
        return parse(str(value))
    except (ValueError, InvalidOperation, ArithmeticError, TypeError):
        return Decimal(0)


def milli(value: Any) -> int:
    return math.ceil(parse_quantity(value) * 1000)


def whole(value: Any) -> int:
    return math.ceil(parse_quantity(value))


@dataclass(frozen=True, slots=True)
class Requests:
    """What a pod asks of a node; `nz_*` are the scoring values (defaults for zero requests)."""

    cpu: int = 0
    mem: int = 0
    nz_cpu: int = 0
    nz_mem: int = 0


def pod_requests(spec: Mapping[str, Any]) -> Requests:
    """The effective request: the larger of the containers' sum and any one init container, plus overhead."""
    cpu = mem = nz_cpu = nz_mem = 0
    sidecar_cpu = sidecar_mem = 0
    init_cpu = init_mem = init_nz_cpu = init_nz_mem = 0
    for c in spec.get("initContainers") or ():
        req = _container_requests(c)
        c_cpu, c_mem = milli(req.get("cpu", 0)), whole(req.get("memory", 0))
        if c.get("restartPolicy") == "Always":
            sidecar_cpu += c_cpu
            sidecar_mem += c_mem
            continue
        init_cpu = max(init_cpu, sidecar_cpu + c_cpu)
        init_mem = max(init_mem, sidecar_mem + c_mem)
        init_nz_cpu = max(init_nz_cpu, c_cpu or _NONZERO_CPU)
        init_nz_mem = max(init_nz_mem, c_mem or _NONZERO_MEM)
    for c in spec.get("containers") or ():
        req = _container_requests(c)
        c_cpu, c_mem = milli(req.get("cpu", 0)), whole(req.get("memory", 0))
        cpu += c_cpu
        mem += c_mem
        nz_cpu += c_cpu or _NONZERO_CPU
        nz_mem += c_mem or _NONZERO_MEM
    cpu, mem = max(cpu + sidecar_cpu, init_cpu), max(mem + sidecar_mem, init_mem)
    nz_cpu, nz_mem = max(nz_cpu + sidecar_cpu, init_nz_cpu), max(nz_mem + sidecar_mem, init_nz_mem)
    overhead = spec.get("overhead") or {}
    if overhead:
        o_cpu, o_mem = milli(overhead.get("cpu", 0)), whole(overhead.get("memory", 0))
        cpu, mem, nz_cpu, nz_mem = cpu + o_cpu, mem + o_mem, nz_cpu + o_cpu, nz_mem + o_mem
    return Requests(cpu, mem, nz_cpu, nz_mem)


def _container_requests(c: Mapping[str, Any]) -> Mapping[str, Any]:
    res = c.get("resources") or {}
    req = res.get("requests") or {}
    lim = res.get("limits") or {}
    if not lim:
        return req
    return {**lim, **req}  # the API server defaults a missing request to its limit


# --- nodes -----------------------------------------------------------------------------------


@dataclass(slots=True)
class NodeInfo:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, Any]]  # NoSchedule/NoExecute, including the implicit not-ready one
    soft_taints: list[dict[str, Any]]  # PreferNoSchedule
    unschedulable: bool
    cpu: int
    mem: int
    pods: int
    used: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])  # cpu, mem, pods, nz_cpu, nz_mem


def node_info(node: Mapping[str, Any], used: list[int] | None = None) -> NodeInfo:
    meta, spec, status = node.get("metadata", {}), node.get("spec") or {}, node.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    taints = [dict(t) for t in spec.get("taints") or () if t.get("effect") in ("NoSchedule", "NoExecute")]
    soft = [dict(t) for t in spec.get("taints") or () if t.get("effect") == "PreferNoSchedule"]
    if not node_ready(node) and not any(t.get("key") == _NOT_READY_TAINT["key"] for t in taints):
        taints.append(dict(_NOT_READY_TAINT))  # what the node lifecycle controller adds
    return NodeInfo(
        name=meta.get("name", ""),
        labels=dict(meta.get("labels") or {}),
        taints=taints,
        soft_taints=soft,
        unschedulable=bool(spec.get("unschedulable")),
        cpu=milli(alloc.get("cpu", 0)),
        mem=whole(alloc.get("memory", 0)),
        pods=whole(alloc.get("pods", 110)),
        used=used if used is not None else [0, 0, 0, 0, 0],
    )


def node_ready(node: Mapping[str, Any]) -> bool:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


# --- matching --------------------------------------------------------------------------------


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for t in tolerations:
        effect = t.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        key = t.get("key") or ""
        if not key:
            if op == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if op == "Exists" or (op == "Equal" and (t.get("value") or "") == (taint.get("value") or "")):
            return True
    return False


def _expression_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or ()]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Mapping[str, Any], node: NodeInfo) -> bool:
    """One nodeSelectorTerm: its expressions and fields AND'ed; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not exprs and not fields:
        return False
    for e in exprs:
        if not _expression_matches(e, node.labels.get(e.get("key", ""))):
            return False
    for f in fields:
        value = node.name if f.get("key") == "metadata.name" else None
        if f.get("operator") not in ("In", "NotIn") or not _expression_matches(f, value):
            return False
    return True


def affinity_matches(spec: Mapping[str, Any], node: NodeInfo) -> bool:
    for k, v in (spec.get("nodeSelector") or {}).items():
        if node.labels.get(k) != str(v):
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or ())


# --- the controller --------------------------------------------------------------------------


@dataclass(slots=True)
class _Verdict:
    node: str | None
    message: str = ""
    fit_error: bool = True


class Scheduler(Controller):
    name = "scheduler"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pods_rt: ResourceType = self.store.rt("v1", "Pod")
        self.nodes_rt: ResourceType = self.store.rt("v1", "Node")
        self.pvcs_rt: ResourceType = self.store.rt("v1", "PersistentVolumeClaim")
        self._nodes: dict[str, NodeInfo] = {}
        self._order: list[str] = []  # node names, sorted: the deterministic tie-break
        self._requests: dict[str, Requests] = {}  # pod uid -> requests
        self._assigned: dict[str, tuple[str, Requests, int, str]] = {}  # pod uid -> node, requests, priority, owner
        self._siblings: Counter[tuple[str, str]] = Counter()  # (node, controller uid) -> pods: default spreading
        self._unschedulable: set[Key] = set()
        self._retry_planned = False
        for node in self.store.list(self.nodes_rt):
            self._set_node(node)
        for pod in self.store.list(self.pods_rt):
            self._account(pod, deleted=False)

    # --- watching -------------------------------------------------------------------------

    def initial_keys(self) -> Iterable[Key]:
        for pod in self.store.list(self.pods_rt):
            if self._wants_scheduling(pod):
                yield _key(pod)

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt is self.pods_rt:
            freed = self._account(obj, deleted=type_ == "DELETED")
            key = _key(obj)
            if type_ == "DELETED":
                self._unschedulable.discard(key)
                self._requests.pop(obj["metadata"].get("uid", ""), None)
            elif self._wants_scheduling(obj) and (
                type_ == "ADDED" or old is None or old.get("spec") != obj.get("spec")
            ):
                self.enqueue(key)
            if freed:
                self._plan_retry()
        elif rt is self.nodes_rt:
            name = obj["metadata"]["name"]
            if type_ == "DELETED":
                self._nodes.pop(name, None)
                self._order = sorted(self._nodes)
            else:
                before = self._nodes.get(name)
                after = self._set_node(obj)
                if before is None or _node_shape(before) != _node_shape(after):
                    self._plan_retry()
        elif rt is self.pvcs_rt and self._unschedulable:
            self._plan_retry()

    def _set_node(self, node: dict[str, Any]) -> NodeInfo:
        name = node["metadata"]["name"]
        prev = self._nodes.get(name)
        info = node_info(node, prev.used if prev is not None else None)
        if prev is None:
            self._order = sorted([*self._nodes, name])
        self._nodes[name] = info
        return info

    def _account(self, pod: dict[str, Any], *, deleted: bool) -> bool:
        """Keep per-node requested sums in step with the store; True when resources were freed."""
        uid = pod["metadata"].get("uid", "")
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        want: tuple[str, Requests, int, str] | None = None
        if not deleted and node and phase not in ("Succeeded", "Failed"):
            want = (node, self._requests_of(pod), _priority(pod), _controller_uid(pod))
        have = self._assigned.get(uid)
        if have == want:
            return False
        if have is not None:
            self._add(have[0], have[1], -1)
            self._siblings[(have[0], have[3])] -= 1
            del self._assigned[uid]
        if want is not None:
            self._add(want[0], want[1], 1)
            self._siblings[(want[0], want[3])] += 1
            self._assigned[uid] = want
        return have is not None and want is None

    def _requests_of(self, pod: dict[str, Any]) -> Requests:
        uid = pod["metadata"].get("uid", "")
        req = self._requests.get(uid)
        if req is None:
            req = self._requests[uid] = pod_requests(pod.get("spec") or {})
        return req

    def _add(self, node: str, req: Requests, sign: int) -> None:
        info = self._nodes.get(node)
        if info is None:
            return
        u = info.used
        u[0] += sign * req.cpu
        u[1] += sign * req.mem
        u[2] += sign
        u[3] += sign * req.nz_cpu
        u[4] += sign * req.nz_mem

    def _plan_retry(self) -> None:
        if self._unschedulable and not self._retry_planned:
            self._retry_planned = True
            self.requeue_after(RETRY_KEY, RETRY_SOON)

    def _wants_scheduling(self, pod: dict[str, Any]) -> bool:
        spec = pod.get("spec") or {}
        return (
            not spec.get("nodeName")
            and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not pod["metadata"].get("deletionTimestamp")
        )

    # --- scheduling -----------------------------------------------------------------------

    def reconcile(self, key: Key) -> None:
        if key == RETRY_KEY:
            self._retry_planned = False
            for k in sorted(self._unschedulable):
                self.enqueue(k)
            if self._unschedulable:
                self.requeue_after(RETRY_KEY, RETRY_PERIOD)
            return
        pod = self.store.get(self.pods_rt, *key)
        if pod is None or not self._wants_scheduling(pod):
            self._unschedulable.discard(key)
            return
        verdict = self.schedule(pod)
        if verdict.node is not None:
            self._bind(pod, verdict.node)
            self._unschedulable.discard(key)
            return
        self._fail(pod, verdict)
        self._unschedulable.add(key)
        if not self._retry_planned:
            self._retry_planned = True
            self.requeue_after(RETRY_KEY, RETRY_PERIOD)

    def schedule(self, pod: dict[str, Any]) -> _Verdict:
        """Pick a node for `pod`, or explain (FitError text) why none fits."""
        total = len(self._order)
        if total == 0:
            return _Verdict(None, NO_NODES, fit_error=False)
        spec = pod.get("spec") or {}
        claim_problem = self._volume_prefilter(pod)
        if claim_problem is not None and claim_problem.startswith("running PreFilter"):
            return _Verdict(None, claim_problem, fit_error=False)
        if claim_problem is not None:
            post = self._post_filter(pod, {n: (P_NOT_HELPFUL, None) for n in self._order}, total)
            return _Verdict(None, f"0/{total} nodes are available: {claim_problem}. {post}")
        req = self._requests_of(pod)
        tolerations = spec.get("tolerations") or ()
        has_selector = bool(spec.get("nodeSelector") or spec.get("affinity"))
        failures: dict[str, tuple[str, tuple[str, ...] | None]] = {}  # node -> (first reason, resource reasons)
        best, best_score = None, -math.inf
        owner = _controller_uid(pod)
        preferred = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "preferredDuringSchedulingIgnoredDuringExecution"
        ) or ()
        for name in self._order:
            n = self._nodes[name]
            if n.unschedulable and not tolerates(tolerations, _UNSCHEDULABLE_TAINT):
                failures[name] = (R_UNSCHEDULABLE, None)
                continue
            if n.taints and any(not tolerates(tolerations, t) for t in n.taints):
                failures[name] = (R_TAINT, None)
                continue
            if has_selector and not affinity_matches(spec, n):
                failures[name] = (R_AFFINITY, None)
                continue
            u = n.used
            short = _insufficient(n, u, req)
            if short:
                failures[name] = (short[0], short)
                continue
            score = _score(n, req, preferred, tolerations)
            if owner:
                score -= SPREAD_WEIGHT * self._siblings[(name, owner)]
            if score > best_score:
                best, best_score = name, score
        if best is not None:
            return _Verdict(best)
        reasons: Counter[str] = Counter()
        for first, resources in failures.values():
            for r in resources or (first,):
                reasons[r] += 1
        filter_msg = ", ".join(sorted(f"{v} {k}" for k, v in reasons.items()))
        post = self._post_filter(pod, failures, total)
        return _Verdict(None, f"0/{total} nodes are available: {filter_msg}. {post}")

    def _volume_prefilter(self, pod: dict[str, Any]) -> str | None:
        ns = pod["metadata"].get("namespace", "")
        unbound = False
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            ephemeral = vol.get("ephemeral") is not None
            if ephemeral:
                claim = f"{pod['metadata']['name']}-{vol.get('name', '')}"
            if not claim:
                continue
            pvc = self.store.get(self.pvcs_rt, ns, claim)
            if pvc is None:
                if ephemeral:
                    return f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{claim}"'
                return f'persistentvolumeclaim "{claim}" not found'
            if (pvc.get("status") or {}).get("phase") == "Lost":
                return (
                    f'persistentvolumeclaim "{claim}" bound to non-existent persistentvolume '
                    f'"{(pvc.get("spec") or {}).get("volumeName", "")}"'
                )
            if pvc["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{claim}" is being deleted'
            if (pvc.get("status") or {}).get("phase") != "Bound":
                cls = (pvc.get("spec") or {}).get("storageClassName")
                if cls and cls not in STORAGE_CLASSES:
                    return f'running PreFilter plugin "VolumeBinding": storageclass.storage.k8s.io "{cls}" not found'
                unbound = True
        return "pod has unbound immediate PersistentVolumeClaims" if unbound else None

    def _post_filter(
        self, pod: dict[str, Any], failures: Mapping[str, tuple[str, tuple[str, ...] | None]], total: int
    ) -> str:
        """The DefaultPreemption plugin's verdict, as it appears after `preemption: `."""
        spec = pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return "preemption: not eligible due to preemptionPolicy=Never."
        counts: Counter[str] = Counter()
        for _name, (_first, resources) in failures.items():
            # only resource shortfalls are resolvable by evicting pods; the sandbox finds no victims
            counts[P_NO_VICTIMS if resources else P_NOT_HELPFUL] += 1
        body = ", ".join(sorted(f"{v} {k}" for k, v in counts.items()))
        return f"preemption: 0/{total} nodes are available: {body}."

    # --- writing --------------------------------------------------------------------------

    def _bind(self, pod: dict[str, Any], node: str) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        binding = {"metadata": {"namespace": ns, "name": name, "uid": meta.get("uid")}, "spec": {"nodeName": node}}
        bound = self.store.update(self.pods_rt, binding, subresource="binding")  # also sets PodScheduled=True
        self.recorder.record(
            bound, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}", component=SCHEDULER_NAME
        )

    def _fail(self, pod: dict[str, Any], verdict: _Verdict) -> None:
        reason = "Unschedulable" if verdict.fit_error else "SchedulerError"
        cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": verdict.message}
        if _condition(pod, "PodScheduled") != _with_probe(cond, _condition(pod, "PodScheduled")):
            pod = self._write_condition(pod, cond)
        self.recorder.record(pod, "Warning", "FailedScheduling", verdict.message, component=SCHEDULER_NAME)

    def _write_condition(self, pod: dict[str, Any], cond: dict[str, Any]) -> dict[str, Any]:
        """Set one pod condition through the status subresource (only the status is copied)."""
        meta = pod["metadata"]
        status = dict(pod.get("status") or {})
        status["conditions"] = list(status.get("conditions") or ())
        holder = {"status": status}
        _set_condition(holder, cond, self.clock.stamp())
        ref = {"name": meta["name"], "namespace": meta.get("namespace"), "resourceVersion": meta.get("resourceVersion")}
        return self.store.update(self.pods_rt, {"metadata": ref, "status": status}, subresource="status")


def _insufficient(n: NodeInfo, u: list[int], req: Requests) -> tuple[str, ...]:
    out: list[str] = []
    if u[2] + 1 > n.pods:
        out.append(R_TOO_MANY_PODS)
    if req.cpu == 0 and req.mem == 0:
        return tuple(out)
    if req.cpu > 0 and req.cpu > n.cpu - u[0]:
        out.append("Insufficient cpu")
    if req.mem > 0 and req.mem > n.mem - u[1]:
        out.append("Insufficient memory")
    return tuple(out)


def _score(n: NodeInfo, req: Requests, preferred: Iterable[Mapping[str, Any]], tolerations: Iterable[Any]) -> float:
    """LeastAllocated on the non-zero requests, plus preferred affinity weights, minus soft taints."""
    u = n.used
    cpu = (n.cpu - (u[3] + req.nz_cpu)) * 100 / n.cpu if n.cpu else 0
    mem = (n.mem - (u[4] + req.nz_mem)) * 100 / n.mem if n.mem else 0
    score = (max(cpu, 0) + max(mem, 0)) / 2
    for term in preferred:
        if term_matches(term.get("preference") or {}, n):
            score += int(term.get("weight", 0))
    if n.soft_taints:
        tol = list(tolerations)
        score -= 10 * sum(1 for t in n.soft_taints if not tolerates(tol, t))
    return score


def _controller_uid(pod: dict[str, Any]) -> str:
    for ref in pod["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


def _priority(pod: dict[str, Any]) -> int:
    p = (pod.get("spec") or {}).get("priority")
    return int(p) if isinstance(p, int) else 0


def _node_shape(n: NodeInfo) -> tuple[Any, ...]:
    return (n.labels, n.taints, n.soft_taints, n.unschedulable, n.cpu, n.mem, n.pods)


def _key(obj: dict[str, Any]) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _condition(pod: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return dict(c)
    return None


def _with_probe(cond: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any] | None:
    """`cond` as it would be stored next to `current` (for the no-change check)."""
    if current is None:
        return {}
    return {
        **cond,
        "lastProbeTime": current.get("lastProbeTime"),
        "lastTransitionTime": current.get("lastTransitionTime"),
    }


def _set_condition(pod: dict[str, Any], cond: dict[str, Any], now: str) -> None:
    status = pod.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    for i, c in enumerate(conditions):
        if c.get("type") == cond["type"]:
            changed = c.get("status") != cond["status"]
            merged = {"lastProbeTime": None, **cond}
            merged["lastTransitionTime"] = now if changed else c.get("lastTransitionTime", now)
            conditions[i] = merged
            return
    conditions.append({"lastProbeTime": None, **cond, "lastTransitionTime": now})
