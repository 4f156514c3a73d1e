"""Recording core/v1 Events as kubelet and the controllers do, aggregated into counts."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.resources import by_path
from sandbox.store import Store

EVENTS = by_path("", "v1", "events")
assert EVENTS is not None


class Recorder:
    """Writes Events; a repeat of the same (object, reason, message) bumps count and lastTimestamp."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen: dict[tuple[str, ...], tuple[str, str]] = {}  # key -> (namespace, event name)

    def record(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        component: str,
        host: str = "",
        field_path: str = "",
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), field_path, type_, reason, message, component, host)
        now = self.store.clock.stamp()
        seen = self._seen.get(key)
        if seen is not None:
            cur = self.store.get(EVENTS, *seen)  # type: ignore[arg-type]
            if cur is not None:
                ev = copy.deepcopy(cur)
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = now
                self.store.update(EVENTS, ev)  # type: ignore[arg-type]
                return
        nanos = int(self.store.clock.now_precise().timestamp() * 1e9)
        name = f"{meta['name']}.{nanos:x}"
        involved: dict[str, Any] = {
            "kind": obj.get("kind"),
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if not meta.get("namespace"):
            del involved["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component, **({"host": host} if host else {})}
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or component,
        }
        self.store.create(EVENTS, ev)  # type: ignore[arg-type]
        self._seen[key] = (namespace, name)
