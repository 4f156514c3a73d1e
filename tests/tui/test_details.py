"""`enter` on the stuck worker: what describe would tell the on-call engineer, and its logs, followed live."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Log, Static

from diagnostics.snapshot import Snapshot
from tui.screens.describe import describe, env_line, selector_text
from tui.screens.details import DetailsScreen

NS = "coditect-staging"
NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)
UNSCHEDULABLE = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)


def _owner(kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True}]


def _pod_spec() -> dict[str, Any]:
    return {
        "nodeSelector": {"cloud.google.com/gke-nodepool": "default-pool"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "workers", "effect": "NoSchedule"}],
        "serviceAccountName": "coditect-worker",
        "containers": [
            {
                "name": "worker",
                "image": "us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.6-staging",
                "command": ["celery", "-A", "license_platform", "worker"],
                "env": [
                    {"name": "DJANGO_SETTINGS_MODULE", "value": "license_platform.settings.staging"},
                    {
                        "name": "DB_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "db-password"}},
                    },
                    {"name": "API_TOKEN", "value": "tok-123-literal"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "worker-config"}}],
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            },
            {"name": "metrics", "image": "prom/statsd-exporter:v0.26.0"},
        ],
    }


def objects() -> list[dict[str, Any]]:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "coditect-worker",
            "namespace": NS,
            "uid": "dep-1",
            "labels": {"app": "coditect-worker", "tier": "backend"},
            "creationTimestamp": "2025-03-04T11:00:00Z",
        },
        "spec": {"replicas": 2, "template": {"spec": _pod_spec()}},
        "status": {
            "replicas": 2,
            "updatedReplicas": 2,
            "unavailableReplicas": 2,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "message": "Deployment does not have minimum availability.",
                    "lastTransitionTime": "2025-03-04T11:50:00Z",
                }
            ],
        },
    }
    replicaset = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "coditect-worker-7d9f8",
            "namespace": NS,
            "uid": "rs-1",
            "ownerReferences": _owner("Deployment", "coditect-worker", "dep-1"),
        },
    }
    pending = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "coditect-worker-7d9f8-abcde",
            "namespace": NS,
            "uid": "pod-1",
            "creationTimestamp": "2025-03-04T11:50:00Z",
            "ownerReferences": _owner("ReplicaSet", "coditect-worker-7d9f8", "rs-1"),
        },
        "spec": _pod_spec(),
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": UNSCHEDULABLE,
                    "lastTransitionTime": "2025-03-04T11:50:00Z",
                }
            ],
        },
    }
    crashing = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "coditect-worker-7d9f8-fghij",
            "namespace": NS,
            "uid": "pod-2",
            "creationTimestamp": "2025-03-04T11:30:00Z",
            "ownerReferences": _owner("ReplicaSet", "coditect-worker-7d9f8", "rs-1"),
        },
        "spec": {**_pod_spec(), "nodeName": "gke-primary-1"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "worker",
                    "ready": False,
                    "restartCount": 5,
                    "state": {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": "back-off 2m40s restarting failed container=worker",
                        }
                    },
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
                },
                {
                    "name": "metrics",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2025-03-04T11:31:00Z"}},
                },
            ],
        },
    }

    def event(uid: str, kind: str, name: str, type_: str, reason: str, message: str, when: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{reason}", "namespace": NS},
            "involvedObject": {"kind": kind, "namespace": NS, "name": name, "uid": uid},
            "type": type_,
            "reason": reason,
            "message": message,
            "lastTimestamp": when,
            "count": 3 if type_ == "Warning" else 1,
        }

    events = [
        event(
            "dep-1",
            "Deployment",
            "coditect-worker",
            "Normal",
            "ScalingReplicaSet",
            "Scaled up replica set coditect-worker-7d9f8 to 2",
            "2025-03-04T11:50:00Z",
        ),
        event(
            "pod-1",
            "Pod",
            "coditect-worker-7d9f8-abcde",
            "Warning",
            "FailedScheduling",
            UNSCHEDULABLE,
            "2025-03-04T11:55:00Z",
        ),
    ]
    events.append(
        event(
            "pod-2",
            "Pod",
            "coditect-worker-7d9f8-fghij",
            "Warning",
            "Unhealthy",
            "Readiness probe failed: [/celery] worker not ready",  # looks like Rich markup; must print as is
            "2025-03-04T11:58:00Z",
        )
    )
    return [deployment, replicaset, pending, crashing, *events]


def snapshot() -> Snapshot:
    return Snapshot.from_objects("staging", objects(), taken_at=NOW)


class Host(App[None]):
    def __init__(self, details: DetailsScreen) -> None:
        super().__init__()
        self.details = details

    def on_mount(self) -> None:
        self.push_screen(self.details)


class FakeLogs:
    """Logs that grow by one line on every read, the way a running worker's do."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, str, str | None, bool]] = []
        self.fail = fail

    async def __call__(self, namespace: str, pod: str, container: str | None, previous: bool) -> str:
        self.calls.append((namespace, pod, container, previous))
        if self.fail:
            raise RuntimeError(self.fail)
        if previous:
            return "Traceback (most recent call last):\nKeyError: 'DJANGO_SECRET_KEY'\n"
        reads = sum(1 for call in self.calls if not call[3])
        return "".join(f"[worker] task {i} received\n" for i in range(1, reads + 1))


def plain(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def described(app: App[None]) -> str:
    return plain(app.screen.query_one("#describe-body", Static).content)  # type: ignore[arg-type]


async def until(pilot: Pilot[None], ready: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.01)


async def test_deployment_details_show_the_template_its_pods_and_why_they_are_stuck() -> None:
    snap = snapshot()
    app = Host(DetailsScreen(snap.get("Deployment", NS, "coditect-worker"), snap))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = described(app)
        assert "Deployment coditect-staging/coditect-worker" in str(
            app.screen.query_one("#details-title", Static).content
        )
        for expected in (
            "Labels           app=coditect-worker, tier=backend",
            "Replicas         2 desired · 0 ready · 2 updated · 0 available",
            "Node selector    cloud.google.com/gke-nodepool=default-pool",
            "Tolerations      dedicated=workers:NoSchedule (Equal)",
            "image     us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.6-staging",
            "command   celery -A license_platform worker",
            "env       DJANGO_SETTINGS_MODULE=license_platform.settings.staging",
            "env       DB_PASSWORD  secretKeyRef backend-secrets/db-password",
            "env       API_TOKEN=<hidden>",
            "env       POD_IP  fieldRef status.podIP",
            "envFrom   configMapRef worker-config",
            "resources requests cpu=250m, memory=512Mi · limits memory=1Gi",
            "MinimumReplicasUnavailable",
            "coditect-worker-7d9f8-abcde",
            "Pending",
            "CrashLoopBackOff",
            "FailedScheduling",
            "ScalingReplicaSet",
            "(x3)",
        ):
            assert expected in text, f"{expected!r} missing from:\n{text}"
        assert "tok-123-literal" not in text


async def test_pod_details_show_its_owners_and_why_its_container_restarts() -> None:
    snap = snapshot()
    pod = snap.get("Pod", NS, "coditect-worker-7d9f8-fghij")
    app = Host(DetailsScreen(pod, snap))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = described(app)
        assert "Owners           ReplicaSet coditect-worker-7d9f8 → Deployment coditect-worker" in text
        assert "Status           CrashLoopBackOff" in text
        assert "Node             gke-primary-1" in text
        worker = next(line for line in text.splitlines() if line.startswith("worker "))
        assert "Waiting: CrashLoopBackOff" in worker and "5" in worker and "Terminated: Error (exit 1)" in worker
        assert "back-off 2m40s restarting failed container=worker" in text
        assert "Running since 29m" in text
        assert "Readiness probe failed: [/celery] worker not ready (x3)" in text


async def test_l_reads_the_logs_of_the_first_started_pod_and_p_the_previous_container() -> None:
    snap = snapshot()
    logs = FakeLogs()
    app = Host(DetailsScreen(snap.get("Deployment", NS, "coditect-worker"), snap, logs))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        log = app.screen.query_one(Log)
        await until(pilot, lambda: log.line_count == 1, "the first read")
        # the Pending pod has no logs yet: the first pod whose containers started is read
        assert logs.calls == [(NS, "coditect-worker-7d9f8-fghij", "worker", False)]
        assert list(log.lines[:1]) == ["[worker] task 1 received"]
        await pilot.press("p")
        await until(pilot, lambda: "KeyError: 'DJANGO_SECRET_KEY'" in log.lines, "the previous container's logs")
        assert logs.calls[-1] == (NS, "coditect-worker-7d9f8-fghij", "worker", True)
        assert "[worker] task 1 received" not in log.lines
        await pilot.press("p", "c")
        await until(pilot, lambda: logs.calls[-1][2] == "metrics", "the next container")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.details.showing_logs
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailsScreen)


async def test_f_follows_the_logs_appending_new_lines_until_toggled_off() -> None:
    snap = snapshot()
    logs = FakeLogs()
    pod = snap.get("Pod", NS, "coditect-worker-7d9f8-fghij")
    app = Host(DetailsScreen(pod, snap, logs, follow_interval=0.05))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l", "f")
        log = app.screen.query_one(Log)
        await until(pilot, lambda: log.line_count >= 4, "four followed lines")
        assert list(log.lines[:4]) == [f"[worker] task {i} received" for i in range(1, 5)]
        await pilot.press("f")
        await pilot.pause()
        stopped = len(logs.calls)
        await pilot.pause(0.1)
        assert len(logs.calls) == stopped, "toggling follow off stops reading"
        assert "not following" in str(app.screen.query_one("#logs-status", Static).content)
        await pilot.press("f")
        await until(pilot, lambda: len(logs.calls) > stopped + 2, "following again")
        await pilot.press("escape", "escape")  # closing the screen stops following too
        await pilot.pause()
        closed = len(logs.calls)
        await pilot.pause(0.1)
        assert len(logs.calls) == closed


async def test_a_failed_read_is_shown_not_swallowed() -> None:
    snap = snapshot()
    logs = FakeLogs(fail='pods "coditect-worker-7d9f8-fghij" not found')
    pod = snap.get("Pod", NS, "coditect-worker-7d9f8-fghij")
    app = Host(DetailsScreen(pod, snap, logs))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        status = app.screen.query_one("#logs-status", Static)
        await until(pilot, lambda: "could not read the logs" in str(status.content), "the error")
        assert 'pods "coditect-worker-7d9f8-fghij" not found' in str(status.content)


async def test_without_a_cluster_connection_logs_say_so() -> None:
    snap = snapshot()
    app = Host(DetailsScreen(snap.get("Pod", NS, "coditect-worker-7d9f8-abcde"), snap, None))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        assert "no cluster connection" in str(app.screen.query_one("#logs-status", Static).content)


def test_env_from_a_secret_is_shown_by_reference_only() -> None:
    ref = {"secretKeyRef": {"name": "backend-secrets", "key": "db-password", "optional": True}}
    assert env_line({"name": "DB_PASSWORD", "valueFrom": ref}) == (
        "DB_PASSWORD  secretKeyRef backend-secrets/db-password (optional)"
    )
    assert env_line({"name": "DATABASE_PASSWORD", "value": "hunter2"}) == "DATABASE_PASSWORD=<hidden>"


def _pod(name: str, owner_kind: str, owner: str, owner_uid: str, uid: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": uid,
            "creationTimestamp": "2025-03-04T11:40:00Z",
            "ownerReferences": _owner(owner_kind, owner, owner_uid),
        },
        "spec": {"nodeName": "gke-primary-1", "containers": [{"name": "app", "image": "example/app:1"}]},
        "status": status,
    }


RUNNING = {
    "phase": "Running",
    "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}],
}


def _event(uid: str, kind: str, name: str, reason: str, message: str, when: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{reason}", "namespace": NS},
        "involvedObject": {"kind": kind, "namespace": NS, "name": name, "uid": uid},
        "type": "Warning" if reason.startswith("Failed") else "Normal",
        "reason": reason,
        "message": message,
        "lastTimestamp": when,
    }


def _replicaset(name: str, revision: int, replicas: int, ready: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"uid-{name}",
            "creationTimestamp": "2025-03-04T11:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": _owner("Deployment", "coditect-backend", "dep-b"),
        },
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


async def test_a_stuck_rollout_shows_its_strategy_both_replicasets_and_why_the_new_one_has_no_pods() -> None:
    """v1.0.6 cannot create pods (quota): the old ReplicaSet still serves, and FailedCreate is on the new one."""
    quota = (
        'pods "coditect-backend-66c8f-x" is forbidden: exceeded quota: compute, requested: cpu=500m, '
        "used: cpu=3800m, limited: cpu=4"
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coditect-backend", "namespace": NS, "uid": "dep-b"},
        "spec": {
            "replicas": 2,
            "minReadySeconds": 10,
            "selector": {
                "matchLabels": {"app": "backend"},
                "matchExpressions": [
                    {"key": "track", "operator": "In", "values": ["stable", "canary"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "app", "image": "example/backend:v1.0.6"}]}},
        },
        "status": {
            "replicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "conditions": [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": quota,
                    "lastTransitionTime": "2025-03-04T11:50:00Z",
                }
            ],
        },
    }
    objs = [
        deployment,
        _replicaset("coditect-backend-66c8f", 3, 1, 0, "example/backend:v1.0.6"),
        _replicaset("coditect-backend-5499d", 2, 2, 2, "example/backend:v1.0.5"),
        _replicaset("coditect-backend-1111a", 1, 0, 0, "example/backend:v1.0.4"),
        _pod(
            "coditect-backend-5499d-aaaaa",
            "ReplicaSet",
            "coditect-backend-5499d",
            "uid-coditect-backend-5499d",
            "p-a",
            RUNNING,
        ),
        _event(
            "uid-coditect-backend-66c8f",
            "ReplicaSet",
            "coditect-backend-66c8f",
            "FailedCreate",
            quota,
            "2025-03-04T11:56:00Z",
        ),
        _event(
            "dep-b",
            "Deployment",
            "coditect-backend",
            "ScalingReplicaSet",
            "Scaled up replica set coditect-backend-66c8f to 1",
            "2025-03-04T11:50:00Z",
        ),
    ]
    snap = Snapshot.from_objects("staging", objs, taken_at=NOW)
    app = Host(DetailsScreen(snap.get("Deployment", NS, "coditect-backend"), snap))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = described(app)
    for expected in (
        "Replicas         2 desired · 2 ready · 0 updated · 2 available",
        "Selector         app=backend,track in (stable,canary),!legacy",
        "Strategy         RollingUpdate · max unavailable 0 · max surge 1 · min ready 10s",
        "image     example/backend:v1.0.6",
        "ReplicaFailure",
        "coditect-backend-5499d-aaaaa",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith("coditect-backend-")}
    assert rows["coditect-backend-66c8f"][:5] == ["3", "(new)", "1", "1", "0"]
    assert rows["coditect-backend-5499d"][:4] == ["2", "2", "2", "2"]
    assert "coditect-backend-1111a" not in rows, "a scaled-down old ReplicaSet is history, not news"
    events = [line.split()[:2] for line in text.splitlines() if line.startswith(("Normal ", "Warning "))]
    assert events[:2] == [["Normal", "ScalingReplicaSet"], ["Warning", "FailedCreate"]], "the ReplicaSet's, in order"


async def test_statefulset_details_show_its_service_claims_ordered_rollout_and_pods() -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "postgres", "namespace": NS, "uid": "sts-1", "creationTimestamp": "2025-03-04T10:00:00Z"},
        "spec": {
            "replicas": 3,
            "serviceName": "postgres-headless",
            "selector": {"matchLabels": {"app": "postgres"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            "template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:16.2"}]}},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "premium-rwo",
                        "resources": {"requests": {"storage": "50Gi"}},
                    },
                }
            ],
        },
        "status": {
            "replicas": 3,
            "readyReplicas": 2,
            "updatedReplicas": 1,
            "availableReplicas": 2,
            "currentRevision": "postgres-6d5b",
            "updateRevision": "postgres-7f9c",
        },
    }
    waiting = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "x"}],
    }
    objs = [
        sts,
        _pod("postgres-0", "StatefulSet", "postgres", "sts-1", "p-0", RUNNING),
        _pod("postgres-1", "StatefulSet", "postgres", "sts-1", "p-1", RUNNING),
        _pod("postgres-2", "StatefulSet", "postgres", "sts-1", "p-2", waiting),
        _event(
            "sts-1",
            "StatefulSet",
            "postgres",
            "SuccessfulCreate",
            "create Pod postgres-2 in StatefulSet postgres successful",
            "2025-03-04T11:50:00Z",
        ),
    ]
    snap = Snapshot.from_objects("staging", objs, taken_at=NOW)
    text = plain(describe(snap.get("StatefulSet", NS, "postgres"), snap))  # type: ignore[arg-type]
    for expected in (
        "Replicas         3 desired · 2 ready · 1 updated · 2 available",
        "Selector         app=postgres",
        "Strategy         RollingUpdate · partition 1 · pods OrderedReady",
        "Service          postgres-headless",
        "Volume claims    data 50Gi ReadWriteOnce (premium-rwo)",
        "Revision         postgres-6d5b → postgres-7f9c (rolling out)",
        "image     postgres:16.2",
        "SuccessfulCreate",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    pods = [line.split()[:2] for line in text.splitlines() if line.startswith("postgres-") and "Revision" not in line]
    assert pods == [["postgres-0", "Running"], ["postgres-1", "Running"], ["postgres-2", "Pending"]]


async def test_daemonset_details_count_nodes_and_a_default_rollout() -> None:
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "node-exporter", "namespace": NS, "uid": "ds-1"},
        "spec": {
            "selector": {"matchLabels": {"app": "node-exporter"}},
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "exporter", "image": "prom/node-exporter:v1.8.0"}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
            "numberMisscheduled": 1,
        },
    }
    objs = [ds, _pod("node-exporter-abcde", "DaemonSet", "node-exporter", "ds-1", "p-1", RUNNING)]
    snap = Snapshot.from_objects("staging", objs, taken_at=NOW)
    text = plain(describe(snap.get("DaemonSet", NS, "node-exporter"), snap))  # type: ignore[arg-type]
    for expected in (
        "Replicas         3 desired · 3 current · 2 ready · 3 updated · 2 available · 1 misscheduled",
        "Selector         app=node-exporter",
        "Strategy         RollingUpdate · max unavailable 1 · max surge 0",
        "Node selector    kubernetes.io/os=linux",
        "image     prom/node-exporter:v1.8.0",
        "node-exporter-abcde  Running",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "ReplicaSets" not in text


def test_selectors_read_like_kubectl() -> None:
    assert selector_text(None) == "<none>"
    expressions = [
        {"key": "tier", "operator": "NotIn", "values": ["batch"]},
        {"key": "canary", "operator": "Exists"},
    ]
    assert selector_text({"matchLabels": {"app": "web"}, "matchExpressions": expressions}) == (
        "app=web,tier notin (batch),canary"
    )
