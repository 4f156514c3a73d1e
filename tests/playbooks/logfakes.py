"""Cluster objects and logs for the log-reading playbooks' snapshot tests (crash-loop, job-failed)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from diagnostics.findings import Finding
from diagnostics.logs import Logs
from diagnostics.snapshot import Snapshot
from playbooks.base import Context, Playbook

NS = "shop"
REDIS_LINE = "redis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known."


class FakeLogs:
    """`LogReader.tail` over fixed texts per (pod, previous) or (pod, container, previous); others are gone."""

    def __init__(self, logs: dict[tuple[Any, ...], Logs] | None = None) -> None:
        self.logs = logs or {}
        self.calls: list[tuple[str, str | None, bool]] = []

    async def tail(
        self, namespace: str, pod: str, container: str | None = None, *, previous: bool = False, lines: int = 0
    ) -> Logs:
        self.calls.append((pod, container, previous))
        found = self.logs.get((pod, container, previous)) or self.logs.get((pod, previous))
        return found or Logs((), "the pod is gone")


def run(pb: Playbook, objects: list[dict[str, Any]], logs: FakeLogs | None = None, repo: Any = None) -> list[Finding]:
    snap = Snapshot.from_objects("test", objects)
    ctx = Context(snap, repo=repo, logs=cast(Any, logs))
    return asyncio.run(pb.run(ctx))


def meta(name: str, uid: str, owner: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid, "creationTimestamp": "2025-05-21T09:00:00Z"}
    if owner is not None:
        m["ownerReferences"] = [
            {"apiVersion": "v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
             "uid": owner["metadata"]["uid"], "controller": True}
        ]  # fmt: skip
    m.update(extra)
    return m


def container(name: str = "api", memory_limit: str | None = "512Mi", **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "registry.example/shop/api:1.2.0", **extra}
    if memory_limit is not None:
        c["resources"] = {"requests": {"memory": "256Mi"}, "limits": {"memory": memory_limit}}
    return c


def deployment(name: str = "api", containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, f"uid-{name}", resourceVersion="41"),
        "spec": {"replicas": 2, "template": {"spec": {"containers": containers or [container()]}}},
    }


def replicaset(dep: dict[str, Any]) -> dict[str, Any]:
    name = dep["metadata"]["name"] + "-7d9f"
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta(name, f"uid-{name}", dep)}


def crash_status(
    name: str = "api", exit_code: int = 1, reason: str = "Error", restarts: int = 5, waiting: str = "CrashLoopBackOff"
) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": waiting, "message": f"back-off 2m40s restarting failed container={name}"}},
        "lastState": {"terminated": {"exitCode": exit_code, "reason": reason, "finishedAt": "2025-05-21T09:05:00Z"}},
    }


def pod(name: str, owner: dict[str, Any] | None, statuses: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, f"uid-{name}", owner),
        "spec": {"containers": [{"name": s["name"]} for s in statuses], **spec},
        "status": {"phase": "Running", "containerStatuses": statuses},
    }


def logs(*lines: str) -> Logs:
    return Logs(tuple(lines))
