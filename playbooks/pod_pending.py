"""pod-pending: pods the scheduler cannot place, and exactly why.

Reads the nodes the way the scheduler does: node selector and required affinity labels
no node carries (with the values nodes do carry and how many nodes each would admit),
requests larger than any node's free allocatable, taints nobody tolerates, claims that
are not bound. Pods that no single cause explains (each node refuses them for another
reason) are still reported, in the scheduler's words. Findings go on the top-level
workload; fixes change its pod template.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from decimal import Decimal
from typing import Any

from diagnostics import quantity
from diagnostics.findings import Evidence, Finding, Fix, ObjectRef, finding_id
from diagnostics.fixes import containers, template_fixes
from playbooks.base import Context
from playbooks.evidence import owner_ref, pod_events, top_level_groups

ID = "pod-pending"
_TERMINAL = ("Succeeded", "Failed")


def unschedulable(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if pod.get("spec", {}).get("nodeName") or status.get("phase") != "Pending":
        return False
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in status.get("conditions") or ())


def _labels(node: dict[str, Any]) -> dict[str, str]:
    return node.get("metadata", {}).get("labels") or {}


def _ready(node: dict[str, Any]) -> bool:
    conds = node.get("status", {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds) and not node.get("spec", {}).get(
        "unschedulable"
    )


def requests_of(spec: dict[str, Any]) -> dict[str, Decimal]:
    """What a pod asks for: the sum over containers, or the largest init container if larger."""
    total: dict[str, Decimal] = {"cpu": Decimal(0), "memory": Decimal(0)}
    for c in spec.get("containers") or ():
        for r in total:
            v = (c.get("resources") or {}).get("requests", {}).get(r)
            if v is not None:
                total[r] += quantity.parse(v)
    for c in spec.get("initContainers") or ():
        for r in total:
            v = (c.get("resources") or {}).get("requests", {}).get(r)
            if v is not None:
                total[r] = max(total[r], quantity.parse(v))
    return total


def free_allocatable(ctx: Context) -> dict[str, dict[str, Decimal]]:
    """Per ready node: allocatable minus what its non-terminal pods request."""
    snap = ctx.snapshot
    free: dict[str, dict[str, Decimal]] = {}
    for node in snap.list("Node"):
        if not _ready(node):
            continue
        alloc = node.get("status", {}).get("allocatable") or {}
        name = node["metadata"]["name"]
        left = {r: quantity.parse(alloc.get(r, "0")) for r in ("cpu", "memory")}
        for pod in snap.pods_on(name):
            if pod.get("status", {}).get("phase") in _TERMINAL:
                continue
            for r, v in requests_of(pod.get("spec") or {}).items():
                left[r] -= v
        free[name] = left
    return free


def _tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _term_matches(term: dict[str, Any], labels: dict[str, str]) -> bool:
    for e in term.get("matchExpressions") or ():
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        has = key in labels
        if op == "In" and not (has and labels[key] in values):
            return False
        if op == "NotIn" and has and labels[key] in values:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
    return True


class PodPending:
    id = ID
    title = "Pods the scheduler cannot place"
    kinds = ("Pod", "Node", "Event", "PersistentVolumeClaim")
    uses_repo = True
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        findings: list[Finding] = []
        pending = [p for p in ctx.snapshot.list("Pod") if unschedulable(p)]
        for owner, pods in top_level_groups(ctx.snapshot, pending):
            ref = owner_ref(owner)
            if ctx.in_scope(ref):
                findings += self._diagnose(ctx, owner, ref, pods)
        return findings

    def _diagnose(
        self, ctx: Context, owner: dict[str, Any], ref: ObjectRef, pods: list[dict[str, Any]]
    ) -> list[Finding]:
        spec = pods[0].get("spec") or {}
        nodes = [n for n in ctx.snapshot.list("Node") if _ready(n)]
        common = self._common_evidence(ctx, pods)
        out = []
        for f in (self._selector, self._affinity, self._resources, self._taints, self._claims):
            out += f(ctx, owner, ref, pods, spec, nodes, common)
        # still stuck, but no single cause explains it (each node refuses for its own reason):
        # say so with the scheduler's words rather than report all clear
        return out or [self._unexplained(ref, pods, common)]

    # --- evidence --------------------------------------------------------------------------

    def _common_evidence(self, ctx: Context, pods: list[dict[str, Any]]) -> list[Evidence]:
        ev: list[Evidence] = []
        pod = pods[0]
        name = pod["metadata"]["name"]
        for c in pod.get("status", {}).get("conditions") or ():
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                ev.append(
                    Evidence(
                        "condition",
                        f"PodScheduled=False ({c.get('reason')}): {c.get('message', '')}",
                        f"Pod {pod['metadata'].get('namespace')}/{name}",
                    )
                )
        ev += [e for e in pod_events(ctx.snapshot, pod) if "FailedScheduling" in e.text][-1:]
        names = ", ".join(p["metadata"]["name"] for p in pods[:5]) + (" …" if len(pods) > 5 else "")
        ev.append(Evidence("object", f"{len(pods)} pod(s) Pending: {names}", f"{len(pods)} pods"))
        return ev

    # --- causes ----------------------------------------------------------------------------

    def _selector(self, ctx, owner, ref, pods, spec, nodes, common) -> list[Finding]:  # type: ignore[no-untyped-def]
        selector: dict[str, str] = spec.get("nodeSelector") or {}
        out = []
        for key, want in sorted(selector.items()):
            if any(_labels(n).get(key) == want for n in nodes):
                continue
            others = {k: v for k, v in selector.items() if k != key}
            admits: Counter[str] = Counter()
            for n in nodes:
                labels = _labels(n)
                if key in labels and all(labels.get(k) == v for k, v in others.items()):
                    admits[labels[key]] += 1
            have = Counter(_labels(n)[key] for n in nodes if key in _labels(n))
            if have:
                values = ", ".join(
                    f"{v} ({admits[v]} of {len(nodes)} nodes would admit the pods)" for v, _ in have.most_common()
                )
                why = (
                    f"The pods require nodes labelled {key}={want}, but no node has that value. "
                    f"Nodes carry {key}={values}."
                )
            else:
                why = f"The pods require nodes labelled {key}={want}, but no node has the label {key} at all."
            evidence = [
                *common,
                *(
                    Evidence(
                        "node",
                        f"{n['metadata']['name']}: {key}={_labels(n).get(key, '<unset>')}",
                        f"Node {n['metadata']['name']}",
                    )
                    for n in nodes[:10]
                ),
            ]
            fixes: tuple[Fix, ...] = ()
            cause = f"nodeSelector:{key}"
            if admits:
                best = admits.most_common(1)[0][0]

                def set_value(ps: MutableMapping[str, Any], key: str = key, best: str = best) -> None:
                    ps["nodeSelector"][key] = best

                fixes = template_fixes(
                    owner,
                    set_value,
                    title=f"Set nodeSelector {key} to {best}",
                    risk="low",
                    notes=f"{admits[best]} of {len(nodes)} ready nodes carry {key}={best}.",
                    repo=ctx.repo,
                    key=finding_id(ID, ref, cause),
                )
            elif not have:

                def drop(ps: MutableMapping[str, Any], key: str = key) -> None:
                    del ps["nodeSelector"][key]

                fixes = template_fixes(
                    owner,
                    drop,
                    title=f"Remove nodeSelector {key}",
                    risk="low",
                    notes="No node carries this label; without it the pods can go to any node.",
                    repo=ctx.repo,
                    key=finding_id(ID, ref, cause),
                )
            out.append(
                Finding(
                    id=finding_id(ID, ref, cause),
                    playbook=ID,
                    severity="error",
                    object=ref,
                    title=f"nodeSelector {key}={want} matches no node",
                    explanation=why,
                    evidence=tuple(evidence),
                    fixes=fixes,
                    cause=cause,
                )
            )
        return out

    def _affinity(self, ctx, owner, ref, pods, spec, nodes, common) -> list[Finding]:  # type: ignore[no-untyped-def]
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        terms = required.get("nodeSelectorTerms") or []
        if not terms or any(_term_matches(t, _labels(n)) for t in terms for n in nodes):
            return []
        lines, fix_key, fix_value = [], None, None
        for t in terms:
            for e in t.get("matchExpressions") or ():
                if e.get("operator") != "In":
                    continue
                have = Counter(_labels(n)[e["key"]] for n in nodes if e["key"] in _labels(n))
                if not any(v in have for v in e.get("values") or ()):
                    shown = ", ".join(f"{v} ({c} nodes)" for v, c in have.most_common()) or "none"
                    lines.append(f"{e['key']} in ({', '.join(e.get('values') or [])}): nodes carry {shown}")
                    if have and fix_key is None:
                        fix_key, fix_value = e["key"], have.most_common(1)[0][0]
        cause = "nodeAffinity"
        fixes: tuple[Fix, ...] = ()
        if fix_key is not None and fix_value is not None:

            def set_values(ps: MutableMapping[str, Any], k: str = fix_key, v: str = fix_value) -> None:
                req = ps["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                for term in req["nodeSelectorTerms"]:
                    for expr in term.get("matchExpressions") or ():
                        if expr.get("key") == k and expr.get("operator") == "In":
                            expr["values"] = [v]

            fixes = template_fixes(
                owner,
                set_values,
                title=f"Require {fix_key} in ({fix_value})",
                risk="low",
                notes="The value ready nodes carry.",
                repo=ctx.repo,
                key=finding_id(ID, ref, cause),
            )
        return [
            Finding(
                id=finding_id(ID, ref, cause),
                playbook=ID,
                severity="error",
                object=ref,
                title="Required node affinity matches no node",
                explanation="No ready node satisfies any of the pods' required node affinity terms: "
                + "; ".join(lines),
                evidence=tuple(common),
                fixes=fixes,
                cause=cause,
            )
        ]

    def _resources(self, ctx, owner, ref, pods, spec, nodes, common) -> list[Finding]:  # type: ignore[no-untyped-def]
        want = requests_of(spec)
        free = free_allocatable(ctx)
        if not free:
            return []
        out = []
        for resource in ("cpu", "memory"):
            if not want[resource] or any(f[resource] >= want[resource] for f in free.values()):
                continue
            node, most = max(((n, f[resource]) for n, f in free.items()), key=lambda x: x[1])
            fmt = quantity.cpu if resource == "cpu" else quantity.memory
            why = (
                f"The pods request {fmt(want[resource])} {resource}; the most any ready node has free is "
                f"{fmt(max(most, Decimal(0)))} on {node}."
            )
            cause = f"insufficient:{resource}"
            fixes: tuple[Fix, ...] = ()
            # every pending replica must fit, not only the first: size them for the nodes together
            size = fitting_request([f[resource] for f in free.values()], len(pods))
            if size > 0:
                ratio = size / want[resource]

                def shrink(ps: MutableMapping[str, Any], r: str = resource, ratio: Decimal = ratio) -> None:
                    for c in containers(ps):
                        req = (c.get("resources") or {}).get("requests") or {}
                        if r in req:
                            scaled = quantity.parse(req[r]) * ratio
                            req[r] = quantity.cpu(scaled) if r == "cpu" else quantity.memory(scaled)

                fits = node if len(pods) == 1 else f"all {len(pods)} pods"
                fixes = template_fixes(
                    owner,
                    shrink,
                    title=f"Lower {resource} requests to fit {fits}",
                    risk="high",
                    notes=(
                        f"Requests scaled from {fmt(want[resource])} to {fmt(size)} per pod so that "
                        f"{len(pods)} pod(s) fit the free {resource} (the most free is {fmt(most)} on {node}). "
                        "Risky: the program may need what it asked for; adding capacity is the "
                        "other way out."
                    ),
                    repo=ctx.repo,
                    key=finding_id(ID, ref, cause),
                )
            out.append(
                Finding(
                    id=finding_id(ID, ref, cause),
                    playbook=ID,
                    severity="error",
                    object=ref,
                    title=f"Not enough {resource} on any node",
                    explanation=why,
                    evidence=tuple(common),
                    fixes=fixes,
                    cause=cause,
                )
            )
        return out

    def _taints(self, ctx, owner, ref, pods, spec, nodes, common) -> list[Finding]:  # type: ignore[no-untyped-def]
        tolerations = spec.get("tolerations") or []
        blocking: Counter[tuple[str, str, str]] = Counter()
        per_node: list[list[tuple[str, str, str]]] = []
        for n in nodes:
            bad = [
                (t.get("key", ""), t.get("value", "") or "", t.get("effect", ""))
                for t in n.get("spec", {}).get("taints") or ()
                if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(t, tolerations)
            ]
            blocking.update(bad)
            per_node.append(bad)
        if not blocking or not all(per_node):
            return []
        (key, _, _), _ = blocking.most_common(1)[0]
        cause = f"taint:{key}"
        shown = "; ".join(f"{k}={v}:{e} on {c} node(s)" for (k, v, e), c in blocking.most_common())
        # tolerating one taint helps only if a node has no other: take every taint of the
        # node that needs the fewest tolerations (the most common taints first among equals)
        needed = min(per_node, key=lambda bad: (len(bad), -sum(blocking[t] for t in bad), sorted(bad)))
        added = [
            {"key": k, "operator": "Equal", "value": v, "effect": e}
            if v
            else {"key": k, "operator": "Exists", "effect": e}
            for k, v, e in sorted(needed, key=lambda t: (-blocking[t], t))
        ]
        keys = [str(t["key"]) for t in added]

        def tolerate(ps: MutableMapping[str, Any]) -> None:
            ps.setdefault("tolerations", [])
            ps["tolerations"].extend(dict(t) for t in added)

        fixes = template_fixes(
            owner,
            tolerate,
            title=f"Tolerate the taint {keys[0]}" if len(keys) == 1 else f"Tolerate the taints {', '.join(keys)}",
            risk="high",
            notes=(
                "Taints keep workloads off nodes on purpose (dedicated pools, control plane); "
                "tolerate it only if these pods belong there."
            ),
            repo=ctx.repo,
            key=finding_id(ID, ref, cause),
        )
        return [
            Finding(
                id=finding_id(ID, ref, cause),
                playbook=ID,
                severity="error",
                object=ref,
                title="Every node has a taint the pods do not tolerate",
                explanation=f"All ready nodes are tainted and the pods tolerate none of them: {shown}.",
                evidence=tuple(common),
                fixes=fixes,
                cause=cause,
            )
        ]

    def _claims(self, ctx, owner, ref, pods, spec, nodes, common) -> list[Finding]:  # type: ignore[no-untyped-def]
        ns = ref.namespace or ""
        out = []
        for vol in spec.get("volumes") or ():
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = ctx.snapshot.get("PersistentVolumeClaim", ns, claim)
            phase = (pvc or {}).get("status", {}).get("phase")
            if pvc is not None and phase == "Bound":
                continue
            cause = f"claim:{claim}"
            if pvc is None:
                why = f"The pods mount PersistentVolumeClaim {claim}, which does not exist in {ns}."
            else:
                cls = pvc.get("spec", {}).get("storageClassName")
                why = f"PersistentVolumeClaim {claim} is {phase or 'Pending'} (storage class {cls or 'default'})."
            ev = list(common)
            if pvc is not None:
                ev += [Evidence("event", e.text, e.source) for e in pod_events(ctx.snapshot, pvc)][-2:]
            out.append(
                Finding(
                    id=finding_id(ID, ref, cause),
                    playbook=ID,
                    severity="error",
                    object=ref,
                    title=f"Volume claim {claim} is not bound",
                    explanation=why + " The scheduler waits for it.",
                    evidence=tuple(ev),
                    cause=cause,
                )
            )
        return out

    def _unexplained(self, ref: ObjectRef, pods: list[dict[str, Any]], common: list[Evidence]) -> Finding:
        said = next(
            (
                str(c.get("message") or c.get("reason") or "")
                for c in pods[0].get("status", {}).get("conditions") or ()
                if c.get("type") == "PodScheduled" and c.get("status") == "False"
            ),
            "",
        )
        return Finding(
            id=finding_id(ID, ref, "unschedulable"),
            playbook=ID,
            severity="error",
            object=ref,
            title="The scheduler cannot place the pods",
            explanation=(
                "No single cause explains it: the nodes refuse the pods for different reasons, or for one "
                f"pitstop does not check. The scheduler says: {said or 'nothing'}"
            ),
            evidence=tuple(common),
            cause="unschedulable",
        )


def fitting_request(free: list[Decimal], pods: int) -> Decimal:
    """The largest per-pod request of which `pods` pods fit in the nodes' `free` amounts (0 when none does).

    A pod goes on one node, so a node with `f` free holds `f // size` of them.
    """
    pods = max(pods, 1)
    room = sorted((f for f in free if f > 0), reverse=True)[:pods]
    sizes = sorted({f / k for f in room for k in range(1, pods + 1)})  # the answer is one of these
    lo, hi = 0, len(sizes)  # fits(sizes[i]) holds for every i below the answer's index: bisect it
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(int(f // sizes[mid]) for f in room) >= pods:
            lo = mid + 1
        else:
            hi = mid
    return sizes[lo - 1] if lo else Decimal(0)


PLAYBOOK = PodPending()
