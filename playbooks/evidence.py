"""Shared reading of the snapshot for playbooks: owners, grouping, events and statuses as evidence."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from diagnostics.findings import Evidence, ObjectRef

if TYPE_CHECKING:
    from diagnostics.snapshot import Snapshot


def owner_ref(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(str(obj.get("kind")), str(meta.get("name")), meta.get("namespace"))


def top_level_groups(
    snap: Snapshot, pods: Iterable[dict[str, Any]]
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Pods grouped under their top-level workload (Deployment, Job, CronJob…, or the bare Pod)."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for pod in pods:
        owner = snap.top_owner(pod)
        uid = owner["metadata"].get("uid") or f"{owner.get('kind')}/{owner['metadata'].get('name')}"
        groups.setdefault(uid, (owner, []))[1].append(pod)
    return sorted(groups.values(), key=lambda g: (g[0]["metadata"].get("namespace", ""), g[0]["metadata"]["name"]))


def pod_events(snap: Snapshot, obj: dict[str, Any]) -> list[Evidence]:
    """The object's events as evidence, oldest first, with counts as kubectl describe shows them."""
    meta = obj["metadata"]
    source = f"events of {obj.get('kind')} {meta.get('namespace', '')}/{meta['name']}".replace(" /", " ")
    out = []
    for ev in snap.events_for(obj):
        count = ev.get("count") or 1
        times = f" (x{count})" if count > 1 else ""
        out.append(Evidence("event", f"{ev.get('type')} {ev.get('reason')}: {ev.get('message', '')}{times}", source))
    return out


def waiting_states(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(container name, waiting state) for every waiting container, init containers first."""
    status = pod.get("status") or {}
    out = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            out.append((cs.get("name", ""), waiting))
    return out
