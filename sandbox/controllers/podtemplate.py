"""Pods from templates, as the workload controllers make them: hashes, names, owner references, pod state.

`template_hash` follows Kubernetes' shape (FNV-32a of the template and the collision
count, its decimal digits mapped onto the no-vowel alphabet), so names look like
`web-5d4f8b6c9`; the digest itself is of the JSON, not of Go's struct dump.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import orjson

from sandbox.clock import Clock, parse_stamp
from sandbox.errors import APIError
from sandbox.resources import ResourceType, by_kind
from sandbox.store import Store, random_suffix

POD: ResourceType = by_kind("v1", "Pod")  # type: ignore[assignment]
HASH_LABEL = "pod-template-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATED_BASE = 63 - 5  # the API server truncates generateName to leave room for 5 random characters


# --- hashing -----------------------------------------------------------------------------------


def _fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """Kubernetes' `rand.SafeEncodeString`: every character mapped onto vowel-free alphanumerics."""
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in s)


def template_hash(template: dict[str, Any] | None, collision_count: int | None = None) -> str:
    """The `pod-template-hash` of a pod template (stable across processes)."""
    data = orjson.dumps(strip_hash_label(template or {}), option=orjson.OPT_SORT_KEYS)
    h = _fnv32a(data)
    if collision_count:
        h = _fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF), h)
    return safe_encode(str(h))


def strip_hash_label(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the `pod-template-hash` label (what Deployment and ReplicaSet templates share)."""
    labels = (template.get("metadata") or {}).get("labels") or {}
    if HASH_LABEL not in labels:
        return template
    meta = dict(template.get("metadata") or {})
    rest = {k: v for k, v in labels.items() if k != HASH_LABEL}
    if rest:
        meta["labels"] = rest
    else:
        meta.pop("labels", None)
    out = dict(template)
    if meta:
        out["metadata"] = meta
    else:
        out.pop("metadata", None)
    return out


def templates_equal_ignoring_hash(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return strip_hash_label(a or {}) == strip_hash_label(b or {})


# --- ownership ---------------------------------------------------------------------------------


def controller_ref(owner: dict[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The owner reference with `controller: true`, if any."""
    if not obj:
        return None
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def controlled_by(obj: dict[str, Any], uid: str) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == uid


def owned(store: Store, owner: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Objects of `kind` whose controller is `owner` (through the store's owner index)."""
    uid = owner["metadata"].get("uid", "")
    return [o for rt, o in store.children(uid) if rt.kind == kind and controlled_by(o, uid)]


def without_owner(obj: dict[str, Any], uid: str) -> None:
    """Drop the owner reference to `uid` from `obj` (a copy being edited): a release."""
    meta = obj["metadata"]
    refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") != uid]
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)


# --- pods from templates -----------------------------------------------------------------------


def new_pod(
    template: dict[str, Any],
    owner: dict[str, Any],
    *,
    name: str | None = None,
    prefix: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pod built from `template` for `owner` (the store copies it on create, so nothing is shared for long)."""
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {}
    if prefix is not None:
        meta["generateName"] = prefix
    if name is not None:
        meta["name"] = name
    meta["namespace"] = owner["metadata"].get("namespace", "default")
    all_labels = {**(tmeta.get("labels") or {}), **(labels or {})}
    if all_labels:
        meta["labels"] = all_labels
    all_annotations = {**(tmeta.get("annotations") or {}), **(annotations or {})}
    if all_annotations:
        meta["annotations"] = all_annotations
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [controller_ref(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}


def name_prefix(controller_name: str) -> str:
    return f"{controller_name}-"


def create_generated(store: Store, pod: dict[str, Any]) -> dict[str, Any]:
    """Create `pod` under `generateName` + 5 random characters, retrying on the rare name clash."""
    base = pod["metadata"]["generateName"][:_MAX_GENERATED_BASE]
    last: APIError | None = None
    for _ in range(5):
        pod["metadata"]["name"] = base + random_suffix()
        try:
            return store.create(POD, pod)
        except APIError as e:
            if e.code != 409:
                raise
            last = e
    assert last is not None
    raise last


# --- pod state ---------------------------------------------------------------------------------


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_ready(pod: dict[str, Any]) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_running_and_ready(pod: dict[str, Any]) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def is_terminal(pod: dict[str, Any]) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_terminating(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_active(pod: dict[str, Any]) -> bool:
    """What controllers count as a live replica: not finished and not being deleted."""
    return not is_terminal(pod) and not is_terminating(pod)


def available_in(pod: dict[str, Any], min_ready_seconds: int, clock: Clock) -> float | None:
    """Simulated seconds until a ready pod counts as available (0: now); None when it is not ready."""
    if not is_ready(pod):
        return None
    if not min_ready_seconds:
        return 0.0
    since = (condition(pod, "Ready") or {}).get("lastTransitionTime")
    if not since:
        return 0.0
    try:
        ready_for = (clock.now_precise() - parse_stamp(since)).total_seconds() * clock.speed
    except ValueError:
        return 0.0
    return max(0.0, min_ready_seconds - ready_for)


def restarts(pod: dict[str, Any]) -> int:
    status = pod.get("status") or {}
    total = 0
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            if isinstance(cs, dict):
                total += int(cs.get("restartCount") or 0)
    return total


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order(pods: Iterable[dict[str, Any]], colocated: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Pods sorted the way controllers pick victims when scaling down: the least useful first.

    Unscheduled before scheduled, Pending before Running, not ready before ready, pods on
    crowded nodes first, ready for less time first, more restarts first, newer first.
    """

    def key(p: dict[str, Any]) -> tuple[Any, ...]:
        spec, meta = p.get("spec") or {}, p["metadata"]
        node = spec.get("nodeName") or ""
        ready = is_ready(p)
        since = (condition(p, "Ready") or {}).get("lastTransitionTime") or "" if ready else ""
        return (
            1 if node else 0,
            _PHASE_RANK.get(phase(p), 3),
            1 if ready else 0,
            -(colocated or {}).get(node, 0),
            _neg(since),
            -restarts(p),
            _neg(meta.get("creationTimestamp") or ""),
        )

    return sorted(pods, key=key)


def _neg(stamp: str) -> tuple[int, ...]:
    """Sort key that puts later RFC 3339 stamps first."""
    return tuple(-ord(c) for c in stamp)
