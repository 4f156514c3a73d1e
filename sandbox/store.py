"""The object store: every served object, one cluster-wide resourceVersion, the watch log.

Objects are plain JSON dicts, never mutated once stored (writers copy), and kept with
their orjson bytes so that a LIST of 10,000 pods is a join of ready-made bytes.
All methods run on the event loop thread; there are no locks because nothing awaits
between reading and writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets as _random
import string
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox import defaults, validation
from sandbox.clock import Clock
from sandbox.errors import (
    APIError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    namespace_not_found,
    not_found,
    uid_conflict,
)
from sandbox.resources import RESOURCES, ResourceType, by_kind, by_path
from sandbox.selectors import FieldSelector, LabelSelector, fields_match, labels_match

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds
Listener = Callable[[str, ResourceType, dict[str, Any], dict[str, Any] | None], None]

_GENERATION_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob"})
_STATUS_RESET_ON_CREATE = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "Service", "PersistentVolumeClaim"}
)
_NAME_SUFFIX = (
    string.ascii_lowercase.replace("a", "").replace("e", "").replace("i", "").replace("o", "").replace("u", "")
    + "256789"
)


def random_suffix(n: int = 5) -> str:
    """Five characters from the alphabet Kubernetes uses for generated names (no vowels)."""
    return "".join(_random.choice(_NAME_SUFFIX) for _ in range(n))


@dataclass(slots=True)
class Entry:
    obj: dict[str, Any]
    raw: bytes


@dataclass(slots=True)
class Change:
    rv: int
    rt: ResourceType
    type: str  # ADDED, MODIFIED, DELETED
    entry: Entry
    old: Entry | None


@dataclass(slots=True, eq=False)  # identity-hashed: watchers live in sets
class _Watcher:
    rt: ResourceType
    namespace: str | None
    queue: asyncio.Queue[Change | None] = field(default_factory=asyncio.Queue)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def clone(obj: Any) -> Any:
    """A deep copy of a JSON value; several times faster than copy.deepcopy on API objects."""
    return orjson.loads(orjson.dumps(obj))


class Store:
    def __init__(self, clock: Clock, *, window: int = 200_000) -> None:
        self.clock = clock
        self.rv = 1
        self._data: dict[ResourceType, dict[Key, Entry]] = {rt: {} for rt in RESOURCES}
        self._sorted: dict[ResourceType, list[Key] | None] = {rt: None for rt in RESOURCES}
        self._log: deque[Change] = deque(maxlen=window)
        self._watchers: dict[ResourceType, set[_Watcher]] = {rt: set() for rt in RESOURCES}
        self._listeners: list[Listener] = []
        self._children: dict[str, set[tuple[ResourceType, Key]]] = {}
        self._next_ip = int(ipaddress.IPv4Address("10.96.0.10"))

    # --- reading ---------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        e = self._data[rt].get((namespace if rt.namespaced else "", name))
        return e.obj if e else None

    def entry(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        return self._data[rt].get((namespace if rt.namespaced else "", name))

    def entries(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        labels: LabelSelector = (),
        fields: FieldSelector = (),
        start_after: Key | None = None,
    ) -> Iterable[Entry]:
        """Entries in key order (namespace, name), as etcd lists them."""
        keys = self._sorted[rt]
        data = self._data[rt]
        if keys is None:
            keys = self._sorted[rt] = sorted(data)
        if start_after is not None:
            import bisect

            keys = keys[bisect.bisect_right(keys, start_after) :]
        for k in keys:
            if namespace is not None and k[0] != namespace:
                continue
            e = data[k]
            if labels and not labels_match(labels, e.obj["metadata"].get("labels")):
                continue
            if fields and not fields_match(fields, e.obj):
                continue
            yield e

    def list(self, rt: ResourceType, namespace: str | None = None, labels: LabelSelector = ()) -> list[dict[str, Any]]:
        return [e.obj for e in self.entries(rt, namespace, labels)]

    def count(self, rt: ResourceType) -> int:
        return len(self._data[rt])

    def children(self, uid: str) -> list[tuple[ResourceType, dict[str, Any]]]:
        """Objects whose ownerReferences name `uid`."""
        out = []
        for rt, key in list(self._children.get(uid, ())):
            e = self._data[rt].get(key)
            if e is not None:
                out.append((rt, e.obj))
        return out

    # --- writing ---------------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        """Call `listener(type, rt, new, old)` after every committed change (controllers use it)."""
        self._listeners.append(listener)

    def create(
        self, rt: ResourceType, obj: dict[str, Any], *, dry_run: bool = False, creation_timestamp: str | None = None
    ) -> dict[str, Any]:
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        for k in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "selfLink"):
            meta.pop(k, None)
        if rt.namespaced:
            ns = meta.get("namespace") or "default"
            meta["namespace"] = ns
            if self.get(_NAMESPACE, "", ns) is None:
                raise namespace_not_found(ns)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        problem = validation.decode_error(rt, obj)
        if problem:
            raise bad_request(problem)
        causes = validation.validate_create(rt, obj)
        if causes:
            raise invalid(rt, meta.get("name") or meta.get("generateName") or "", causes)
        key = (meta.get("namespace", ""), meta["name"])
        if key in self._data[rt]:
            raise already_exists(rt, meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = creation_timestamp or self.clock.stamp()
        if rt.kind in _GENERATION_KINDS:
            meta["generation"] = 1
        if rt.kind in _STATUS_RESET_ON_CREATE:
            obj.pop("status", None)
        if rt.kind in ("Pod", "Namespace"):
            obj.pop("status", None)  # the server decides a new pod's phase and qosClass
        defaults.apply_defaults(rt, obj)
        if rt.kind == "Service":
            self._allocate_cluster_ip(obj, dry_run)
        causes = validation.validate_create(rt, obj)
        if causes:
            raise invalid(rt, meta["name"], causes)
        if dry_run:
            return obj
        return self._commit(rt, "ADDED", key, obj, None).obj

    def update(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Replace an object (PUT semantics) with optimistic concurrency on `resourceVersion`."""
        meta = obj.get("metadata") or {}
        ns = (meta.get("namespace") or "default") if rt.namespaced else ""
        name = meta.get("name") or ""
        key = (ns, name)
        cur = self._data[rt].get(key)
        if cur is None:
            raise not_found(rt, name)
        old = cur.obj
        want_rv = meta.get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        want_uid = meta.get("uid")
        if want_uid and want_uid != old["metadata"]["uid"]:
            raise uid_conflict(rt, name, want_uid, old["metadata"]["uid"])
        new = clone(obj)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        if subresource == "status":
            merged = clone(old)
            merged["status"] = new.get("status", {})
            new = merged
        elif subresource == "binding":
            # pods/binding: spec.nodeName and PodScheduled=True in one write, as the real registry does
            merged = clone(old)
            merged["spec"]["nodeName"] = new.get("spec", {}).get("nodeName")
            status = merged.setdefault("status", {})
            conds = [c for c in status.get("conditions", []) if c.get("type") != "PodScheduled"]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": self.clock.stamp(),
                }
            )
            status["conditions"] = conds
            new = merged
        else:
            nm = new.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if k in old["metadata"]:
                    nm[k] = old["metadata"][k]
                else:
                    nm.pop(k, None)
            nm["name"] = name
            if rt.namespaced:
                nm["namespace"] = ns
            if "status" in rt.subresources and rt.kind not in ("Node",):
                if "status" in old:
                    new["status"] = clone(old["status"])
                else:
                    new.pop("status", None)
            problem = validation.decode_error(rt, new)
            if problem:
                raise bad_request(problem)
            defaults.apply_defaults(rt, new, create=False)
            if rt.kind == "Service":
                new.setdefault("spec", {})
                for k in ("clusterIP", "clusterIPs"):
                    if k in old.get("spec", {}) and not new["spec"].get(k):
                        new["spec"][k] = old["spec"][k]
            causes = validation.validate_update(rt, old, new)
            if causes:
                raise invalid(rt, name, causes)
            if rt.kind in _GENERATION_KINDS and _spec_of(old) != _spec_of(new):
                nm["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _same(old, new):
            return old  # a no-op write does not bump resourceVersion, as on a real server
        if dry_run:
            return new
        return self._commit(rt, "MODIFIED", key, new, cur).obj

    def mutate(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[dict[str, Any]], None],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any] | None:
        """Controllers' read-modify-write: `change` edits a copy; None if the object is gone."""
        cur = self.get(rt, namespace, name)
        if cur is None:
            return None
        new = clone(cur)
        change(new)
        return self.update(rt, new, subresource=subresource)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: str = "Background",
        dry_run: bool = False,
        precondition_rv: str | None = None,
        precondition_uid: str | None = None,
    ) -> dict[str, Any]:
        key = (namespace if rt.namespaced else "", name)
        cur = self._data[rt].get(key)
        if cur is None:
            raise not_found(rt, name)
        if precondition_rv and precondition_rv != cur.obj["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if precondition_uid and precondition_uid != cur.obj["metadata"]["uid"]:
            raise uid_conflict(rt, name, precondition_uid, cur.obj["metadata"]["uid"])
        if dry_run:
            return cur.obj
        uid = cur.obj["metadata"]["uid"]
        if rt.kind == "Namespace":
            for other in RESOURCES:
                if other.namespaced:
                    for e in list(self.entries(other, name)):
                        self._delete_one(other, (name, e.obj["metadata"]["name"]))
        gone = self._delete_one(rt, key)
        for child_rt, child in self.children(uid):
            cmeta = child["metadata"]
            if propagation == "Orphan":
                self.mutate(
                    child_rt,
                    cmeta.get("namespace", ""),
                    cmeta["name"],
                    lambda o: o["metadata"].__setitem__(
                        "ownerReferences", [r for r in o["metadata"].get("ownerReferences", []) if r.get("uid") != uid]
                    ),
                )
            else:
                with contextlib.suppress(APIError):  # already removed by another owner's cascade
                    self.delete(child_rt, cmeta.get("namespace", ""), cmeta["name"], propagation=propagation)
        self._children.pop(uid, None)
        return gone

    def _delete_one(self, rt: ResourceType, key: Key) -> dict[str, Any]:
        cur = self._data[rt][key]
        obj = clone(cur.obj)
        return self._commit(rt, "DELETED", key, obj, cur).obj

    def _commit(self, rt: ResourceType, type_: str, key: Key, obj: dict[str, Any], old: Entry | None) -> Entry:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        entry = Entry(obj, dumps(obj))
        data = self._data[rt]
        if type_ == "DELETED":
            del data[key]
            self._sorted[rt] = None
        else:
            if key not in data:
                self._sorted[rt] = None
            data[key] = entry
        self._index_owners(rt, key, entry.obj if type_ != "DELETED" else None, old.obj if old else None)
        change = Change(self.rv, rt, type_, entry, old)
        self._log.append(change)
        for w in self._watchers[rt]:
            if w.namespace is None or w.namespace == key[0]:
                w.queue.put_nowait(change)
        for listener in self._listeners:
            listener(type_, rt, entry.obj, old.obj if old else None)
        return entry

    def _index_owners(self, rt: ResourceType, key: Key, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        for o, add in ((old, False), (new, True)):
            for ref in (o or {}).get("metadata", {}).get("ownerReferences") or ():
                uid = ref.get("uid")
                if not uid:
                    continue
                if add:
                    self._children.setdefault(uid, set()).add((rt, key))
                else:
                    self._children.get(uid, set()).discard((rt, key))

    def _allocate_cluster_ip(self, svc: dict[str, Any], dry_run: bool) -> None:
        spec = svc.setdefault("spec", {})
        if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            ip = str(ipaddress.IPv4Address(self._next_ip))
            if not dry_run:
                self._next_ip += 1
            spec["clusterIP"] = ip
        spec["clusterIPs"] = [spec["clusterIP"]]

    # --- watching --------------------------------------------------------------------------

    @property
    def oldest_rv(self) -> int:
        return self._log[0].rv if self._log else self.rv

    def open_watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        since: int | None,
        labels: LabelSelector = (),
        fields: FieldSelector = (),
    ) -> WatchStream:
        """A stream of (type, entry) from `since` on; `since` None starts with the current state as ADDED.

        A `since` older than the retained log raises APIError 410 Expired. Objects that stop
        (or start) matching the selectors are sent as DELETED (or ADDED), like the watch cache.
        """
        if since is not None and since < self.oldest_rv - 1 and since < self.rv:
            raise APIError(410, "Expired", f"too old resource version: {since} ({self.oldest_rv - 1})")
        w = _Watcher(rt, namespace)
        backlog: list[tuple[str, Entry]] = []
        if since is None:
            backlog = [("ADDED", e) for e in self.entries(rt, namespace, labels, fields)]
        else:
            for ch in self._log:
                if ch.rv > since and ch.rt is rt and (namespace is None or _ns(ch.entry.obj) == namespace):
                    ev = _filtered(ch, labels, fields)
                    if ev:
                        backlog.append(ev)
        self._watchers[rt].add(w)  # nothing awaits between the backlog and this, so no change is missed
        return WatchStream(self, w, deque(backlog), labels, fields)

    def close_watches(self) -> None:
        for ws in self._watchers.values():
            for w in ws:
                w.queue.put_nowait(None)

    # --- helpers for controllers -----------------------------------------------------------

    def rt(self, api_version: str, kind: str) -> ResourceType:
        r = by_kind(api_version, kind)
        if r is None:
            raise KeyError(f"{api_version} {kind} is not served by the sandbox")
        return r


class WatchStream:
    """What one watch request receives; `close()` it when the client goes away."""

    def __init__(
        self, store: Store, w: _Watcher, backlog: deque[tuple[str, Entry]], labels: LabelSelector, fields: FieldSelector
    ) -> None:
        self._store, self._w, self._backlog, self._labels, self._fields = store, w, backlog, labels, fields
        self.closed = False

    async def next(self, timeout: float | None) -> tuple[str, Entry] | None:
        """The next event; None when `timeout` passes first. Raises StopAsyncIteration once closed."""
        if self._backlog:
            return self._backlog.popleft()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                ch = await asyncio.wait_for(self._w.queue.get(), remaining)
            except TimeoutError:
                return None
            if ch is None:
                self.closed = True
                raise StopAsyncIteration
            ev = _filtered(ch, self._labels, self._fields)
            if ev:
                return ev

    @property
    def idle(self) -> bool:
        return not self._backlog and self._w.queue.empty()

    def close(self) -> None:
        self._store._watchers[self._w.rt].discard(self._w)


def _ns(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("namespace", "")


def _filtered(ch: Change, labels: LabelSelector, fields: FieldSelector) -> tuple[str, Entry] | None:
    if not labels and not fields:
        return ch.type, ch.entry

    def ok(o: dict[str, Any]) -> bool:
        return labels_match(labels, o["metadata"].get("labels")) and fields_match(fields, o)

    now_ok = ok(ch.entry.obj)
    if ch.type == "MODIFIED" and ch.old is not None:
        was_ok = ok(ch.old.obj)
        if was_ok and not now_ok:
            return "DELETED", ch.entry
        if now_ok and not was_ok:
            return "ADDED", ch.entry
    return (ch.type, ch.entry) if now_ok else None


def _spec_of(obj: dict[str, Any]) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = ("resourceVersion", "managedFields")
    am = {k: v for k, v in a["metadata"].items() if k not in strip}
    bm = {k: v for k, v in b["metadata"].items() if k not in strip}
    return am == bm and _spec_of(a) == _spec_of(b) and a.get("status") == b.get("status")


_NAMESPACE = by_path("", "v1", "namespaces")  # type: ignore[assignment]
assert _NAMESPACE is not None
