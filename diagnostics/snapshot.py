"""One consistent view of the cluster that playbooks read: objects by kind, and indexes built on first use.

A `Snapshot` never changes after it is made. Its object dicts are shared with the watch
cache that made it (copying 10,000 pods for every playbook run would cost more than the
run), so they must be treated as read-only. Kinds are named by Kind (`"Pod"`,
`"Deployment"`); cluster-scoped objects have the namespace `""`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})
_NOT_OWNERS = frozenset({"Pod", "Event"})  # kinds left out of the owner index


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


class Snapshot:
    """Immutable objects by kind plus what could not be read (`forbidden` kinds, `errors` by kind)."""

    __slots__ = (
        "_by_ns",
        "_by_uid",
        "_children",
        "_events",
        "_forbidden",
        "_objects",
        "_on_node",
        "context",
        "errors",
        "taken_at",
    )

    def __init__(
        self,
        context: str,
        objects: Mapping[str, Mapping[Key, Obj]],
        *,
        taken_at: datetime | None = None,
        forbidden: Iterable[str] = (),
        errors: Mapping[str, str] | None = None,
    ) -> None:
        self.context = context
        self.taken_at = taken_at or datetime.now(UTC)
        # one shallow copy per kind: the caller (the watch cache) goes on changing its own dicts
        self._objects: Mapping[str, Mapping[Key, Obj]] = MappingProxyType(
            {kind: MappingProxyType(dict(objs)) for kind, objs in objects.items()}
        )
        self._forbidden = frozenset(forbidden)
        self.errors: Mapping[str, str] = MappingProxyType(dict(errors or {}))
        self._by_ns: dict[str, dict[str, list[Obj]]] = {}
        self._by_uid: dict[str, Obj] | None = None
        self._children: dict[str, list[Obj]] | None = None
        self._events: tuple[dict[str, list[Obj]], dict[tuple[str, str, str], list[Obj]]] | None = None
        self._on_node: dict[str, list[Obj]] | None = None

    @classmethod
    def from_objects(
        cls,
        context: str,
        objects: Iterable[Obj],
        *,
        taken_at: datetime | None = None,
        forbidden: Iterable[str] = (),
        errors: Mapping[str, str] | None = None,
    ) -> Snapshot:
        """A snapshot of loose objects (tests, fixtures, files); each must carry its `kind`."""
        by_kind: dict[str, dict[Key, Obj]] = {}
        for obj in objects:
            by_kind.setdefault(str(obj.get("kind")), {})[key_of(obj)] = obj
        return cls(context, by_kind, taken_at=taken_at, forbidden=forbidden, errors=errors)

    # --- what is in it ---------------------------------------------------------------------

    @property
    def forbidden(self) -> frozenset[str]:
        return self._forbidden

    @property
    def kinds(self) -> list[str]:
        return sorted(self._objects)

    @property
    def objects(self) -> Mapping[str, Mapping[Key, Obj]]:
        return self._objects

    def has(self, kind: str) -> bool:
        """True when the kind was read: a kind that is forbidden or failed is not "empty", it is unknown."""
        return kind in self._objects and kind not in self._forbidden and kind not in self.errors

    def count(self, kind: str) -> int:
        return len(self._objects.get(kind, {}))

    def __iter__(self) -> Iterator[Obj]:
        for kind in self.kinds:
            yield from self._objects[kind].values()

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        return self._objects.get(kind, {}).get((namespace or "", name))

    def list(self, kind: str, namespace: str | None = None) -> builtins.list[Obj]:
        """Objects of `kind`, sorted by (namespace, name); only `namespace`'s when given."""
        index = self._by_ns.get(kind)
        if index is None:
            index = {}
            for key in sorted(self._objects.get(kind, {})):
                obj = self._objects[kind][key]
                index.setdefault(key[0], []).append(obj)
                index.setdefault("\0all", []).append(obj)
            self._by_ns[kind] = index
        return list(index.get("\0all" if namespace is None else namespace, ()))

    def by_uid(self, uid: str) -> Obj | None:
        """The object that can own others (anything but Pods and Events) with this uid.

        Pods and Events are left out of the index: they are most of a big cluster and own
        nothing that matters here, and `owner` still finds a Pod owner by kind and name.
        """
        if self._by_uid is None:
            self._by_uid = {
                u: obj
                for kind, objs in self._objects.items()
                if kind not in _NOT_OWNERS
                for obj in objs.values()
                if (u := _uid(obj))
            }
        return self._by_uid.get(uid)

    # --- ownership -------------------------------------------------------------------------

    def owner(self, obj: Obj) -> Obj | None:
        """The object's controller (the ownerReference with `controller: true`, else the first), if in the snapshot."""
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        if not refs:
            return None
        ref = next((r for r in refs if r.get("controller")), refs[0])
        found = self.by_uid(str(ref.get("uid") or ""))
        if found is None:
            namespace = key_of(obj)[0]
            found = self.get(str(ref.get("kind")), namespace, str(ref.get("name")))
            if found is not None and ref.get("uid") and _uid(found) != ref.get("uid"):
                return None  # a namesake that replaced the real owner
        return found

    def owner_chain(self, obj: Obj) -> builtins.list[Obj]:
        """`obj` then its controllers upwards: [Pod, ReplicaSet, Deployment], [Pod, Job, CronJob]."""
        chain = [obj]
        seen = {_uid(obj) or id(obj)}
        while (up := self.owner(chain[-1])) is not None:
            mark = _uid(up) or id(up)
            if mark in seen:
                break  # an ownership cycle: stop rather than loop
            seen.add(mark)
            chain.append(up)
        return chain

    def top_owner(self, obj: Obj) -> Obj:
        """The top-level workload an object belongs to (Deployment, StatefulSet, DaemonSet, Job, CronJob).

        A bare Pod is its own top owner; when an owner is missing from the snapshot, the
        highest one found is returned.
        """
        chain = self.owner_chain(obj)
        for candidate in reversed(chain):
            if candidate.get("kind") in WORKLOAD_KINDS:
                return candidate
        return chain[-1]

    def pods_of(self, workload: Obj) -> builtins.list[Obj]:
        """The pods under `workload` anywhere down its ownership tree (a Deployment's through its ReplicaSets)."""
        if self._children is None:
            under: dict[str, builtins.list[Obj]] = {}
            for pod in self.list("Pod"):
                marks = {_uid(o) for o in self.owner_chain(pod)[1:]}
                # direct owners count even when they are not in the snapshot
                marks.update(str(r.get("uid")) for r in (pod.get("metadata") or {}).get("ownerReferences") or ())
                for mark in marks - {""}:
                    under.setdefault(mark, []).append(pod)
            self._children = under
        if workload.get("kind") == "Pod":
            return [workload]
        return list(self._children.get(_uid(workload), ()))

    def pods_on(self, node_name: str) -> builtins.list[Obj]:
        if self._on_node is None:
            index: dict[str, builtins.list[Obj]] = {}
            for pod in self.list("Pod"):
                node = (pod.get("spec") or {}).get("nodeName")
                if node:
                    index.setdefault(str(node), []).append(pod)
            self._on_node = index
        return list(self._on_node.get(node_name, ()))

    # --- events ----------------------------------------------------------------------------

    def events_for(self, obj: Obj) -> builtins.list[Obj]:
        """Events about `obj`, oldest first: by involvedObject.uid, else by kind/namespace/name.

        Events that name a uid only match that uid, so a deleted namesake's events stay out.
        """
        if self._events is None:
            by_uid: dict[str, builtins.list[Obj]] = {}
            by_name: dict[tuple[str, str, str], builtins.list[Obj]] = {}
            for ev in self.list("Event"):
                inv = ev.get("involvedObject") or ev.get("regarding") or {}
                if inv.get("uid"):
                    by_uid.setdefault(str(inv["uid"]), []).append(ev)
                else:
                    ns = inv.get("namespace") or key_of(ev)[0]
                    by_name.setdefault((str(inv.get("kind")), str(ns), str(inv.get("name"))), []).append(ev)
            self._events = by_uid, by_name
        by_uid, by_name = self._events
        namespace, name = key_of(obj)
        found = list(by_uid.get(_uid(obj), ())) if _uid(obj) else []
        found += by_name.get((str(obj.get("kind")), namespace, name), ())
        return sorted(found, key=event_time)

    # --- selection -------------------------------------------------------------------------

    def select(self, kind: str, namespace: str | None, selector: Mapping[str, Any] | None) -> builtins.list[Obj]:
        """Objects of `kind` in `namespace` whose labels match `selector`.

        `selector` is a LabelSelector (`matchLabels`/`matchExpressions`) or a plain label map
        (a Service's `spec.selector`). `{}` matches everything, None nothing.
        """
        if selector is None:
            return []
        return [o for o in self.list(kind, namespace) if selector_matches(selector, labels_of(o))]


def labels_of(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics; an unknown operator matches nothing (as the API server refuses it)."""
    if set(selector) <= {"matchLabels", "matchExpressions"}:
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        match_labels, expressions = selector, []
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            return False
        if not ok:
            return False
    return True


def event_time(ev: Obj) -> str:
    """When an event last happened, as a sortable string (core/v1 and events/v1 fields).

    RFC 3339 stamps with and without fractions (`…:05Z`, `…:05.120000Z`) sort together.
    """
    series = ev.get("series") or {}
    stamp = str(
        series.get("lastObservedTime")
        or ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev.get("firstTimestamp")
        or (ev.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
    if not stamp:
        return ""
    whole, _, fraction = stamp.removesuffix("Z").partition(".")
    return f"{whole}.{fraction.ljust(9, '0')}"
