"""kubectl's STATUS, READY, RESTARTS and AGE for the pods an on-call engineer meets during a broken deploy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics.podstatus import age, human_duration, pod_status, ready, restarts, restarts_text, severity, summarize

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
IMAGE = "us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.6-staging"


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(
    name: str = "backend", *, ready: bool = True, restarts: int = 0, last_exit: float | None = None
) -> dict[str, Any]:
    cs: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "imageID": f"{IMAGE.split(':')[0]}@sha256:4f1c0e2b",
        "containerID": "containerd://9b1d2c",
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": stamp(30)}},
        "lastState": {},
    }
    if last_exit is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(last_exit)}}
    return cs


def waiting(reason: str, name: str = "backend", message: str = "", restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {},
    }


def terminated(
    name: str = "backend", *, exit_code: int = 0, reason: str | None = "Completed", signal: int = 0
) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code, "startedAt": stamp(90), "finishedAt": stamp(60)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {
        "name": name,
        "image": IMAGE,
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"terminated": state},
    }


def pod(
    statuses: list[dict[str, Any]] | None = None,
    *,
    phase: str = "Running",
    containers: tuple[str, ...] = ("backend",),
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    """A pod as `kubectl get pod -o json` returns it, in namespace coditect-staging."""
    spec: dict[str, Any] = {
        "containers": [
            {"name": c, "image": IMAGE, "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}
            for c in containers
        ],
        "nodeName": "gke-coditect-staging-primary-node-pool-6f1c9a2e-4m7q",
        "restartPolicy": "Always",
        "serviceAccountName": "coditect-backend",
    }
    if init is not None:
        spec["initContainers"] = init
    body: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions or [],
        "hostIP": "10.128.0.12",
        "podIP": "10.52.1.17",
        "startTime": stamp(600),
        "qosClass": "Burstable",
        **status,
    }
    if statuses is not None:
        body["containerStatuses"] = statuses
    if init_statuses is not None:
        body["initContainerStatuses"] = init_statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "coditect-backend-7d9f8b6c5d-x2x9k",
            "namespace": "coditect-staging",
            "uid": "5b0e4a4e-3f9e-4d0c-9f55-1a2b3c4d5e6f",
            "resourceVersion": "48213",
            "creationTimestamp": stamp(600),
            "labels": {"app.kubernetes.io/name": "coditect-backend", "pod-template-hash": "7d9f8b6c5d"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "coditect-backend-7d9f8b6c5d",
                    "uid": "rs-1",
                    "controller": True,
                }
            ],
        },
        "spec": spec,
        "status": body,
    }


def cond(ctype: str, status: str = "True", reason: str = "") -> dict[str, Any]:
    return {"type": ctype, "status": status, "reason": reason, "lastTransitionTime": stamp(600)}


def test_unschedulable_worker_reads_pending_with_nothing_ready():
    worker = pod(phase="Pending", conditions=[cond("PodScheduled", "False", "Unschedulable")])
    del worker["spec"]["nodeName"]
    assert pod_status(worker) == "Pending"
    assert ready(worker) == (0, 1)
    assert restarts(worker) == (0, None)


@pytest.mark.parametrize(
    "reason",
    ["ContainerCreating", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "InvalidImageName"],
)
def test_waiting_reason_is_the_status(reason):
    p = pod(
        [waiting(reason, message="couldn't find key db-password in Secret coditect-staging/backend-secrets")],
        phase="Pending",
    )
    assert pod_status(p) == reason


def test_crash_looping_api_shows_restarts_and_when_it_last_died():
    p = pod(
        [
            waiting("CrashLoopBackOff", restarts=5)
            | {"lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(125)}}}
        ]
    )
    assert pod_status(p) == "CrashLoopBackOff"
    count, last = restarts(p)
    assert (count, last) == (5, NOW - timedelta(seconds=125))
    assert restarts_text(count, last, NOW) == "5 (2m5s ago)"
    assert restarts_text(0, None, NOW) == "0"


def test_the_first_containers_waiting_reason_wins_as_in_kubectl():
    p = pod(
        [waiting("ImagePullBackOff", "backend"), waiting("CrashLoopBackOff", "cloud-sql-proxy")],
        containers=("backend", "cloud-sql-proxy"),
    )
    assert pod_status(p) == "ImagePullBackOff"
    assert ready(p) == (0, 2)


def test_running_pod_counts_only_ready_running_containers():
    p = pod([running("backend"), running("cloud-sql-proxy", ready=False)], containers=("backend", "cloud-sql-proxy"))
    assert pod_status(p) == "Running"
    assert ready(p) == (1, 2)


@pytest.mark.parametrize(
    ("phase", "state", "expected"),
    [
        ("Succeeded", terminated(), "Completed"),
        ("Failed", terminated(exit_code=1, reason="Error"), "Error"),
        ("Failed", terminated(exit_code=137, reason="OOMKilled"), "OOMKilled"),
        ("Failed", terminated(exit_code=137, reason=None), "ExitCode:137"),
        ("Failed", terminated(exit_code=0, reason=None, signal=9), "Signal:9"),
    ],
)
def test_finished_containers_show_how_they_ended(phase, state, expected):
    assert pod_status(pod([state], phase=phase)) == expected


def test_a_completed_container_next_to_a_running_one_reads_running_or_not_ready():
    statuses = [terminated("migrate"), running("backend")]
    both = ("migrate", "backend")
    assert pod_status(pod(statuses, containers=both, conditions=[cond("Ready")])) == "Running"
    assert pod_status(pod(statuses, containers=both, conditions=[cond("Ready", "False")])) == "NotReady"


def test_deleted_pods_read_terminating_unless_finished_or_their_node_is_lost():
    p = pod([running()])
    p["metadata"]["deletionTimestamp"] = stamp(5)
    assert pod_status(p) == "Terminating"
    done = pod([terminated()], phase="Succeeded")
    done["metadata"]["deletionTimestamp"] = stamp(5)
    assert pod_status(done) == "Completed"
    lost = pod([running()], reason="NodeLost")
    lost["metadata"]["deletionTimestamp"] = stamp(5)
    assert pod_status(lost) == "Unknown"


def test_evicted_pod_shows_the_pod_reason():
    p = pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    assert pod_status(p) == "Evicted"


def test_scheduling_gated_pod():
    assert (
        pod_status(pod(phase="Pending", conditions=[cond("PodScheduled", "False", "SchedulingGated")]))
        == "SchedulingGated"
    )


INIT = [{"name": "wait-for-db", "image": "busybox"}, {"name": "migrate", "image": IMAGE}]


@pytest.mark.parametrize(
    ("init_statuses", "expected"),
    [
        ([waiting("PodInitializing", "wait-for-db"), waiting("PodInitializing", "migrate")], "Init:0/2"),
        ([terminated("wait-for-db"), running("migrate", ready=False)], "Init:1/2"),
        ([terminated("wait-for-db"), waiting("CrashLoopBackOff", "migrate", restarts=3)], "Init:CrashLoopBackOff"),
        ([terminated("wait-for-db", exit_code=1, reason="Error")], "Init:Error"),
        ([terminated("wait-for-db", exit_code=2, reason=None)], "Init:ExitCode:2"),
        ([terminated("wait-for-db", exit_code=2, reason=None, signal=15)], "Init:Signal:15"),
    ],
)
def test_init_containers(init_statuses, expected):
    p = pod([waiting("PodInitializing")], phase="Pending", init=INIT, init_statuses=init_statuses)
    assert pod_status(p) == expected
    assert severity(expected) == ("warn" if expected[5].isdigit() else "error")


def test_init_restarts_count_while_initializing_only():
    init_statuses = [terminated("wait-for-db"), waiting("CrashLoopBackOff", "migrate", restarts=3)]
    assert restarts(pod([waiting("PodInitializing")], phase="Pending", init=INIT, init_statuses=init_statuses))[0] == 3
    done = [terminated("wait-for-db") | {"restartCount": 2}, terminated("migrate")]
    initialized = pod([running()], init=INIT, init_statuses=done, conditions=[cond("Initialized"), cond("Ready")])
    assert summarize(initialized).restarts == 0
    assert pod_status(initialized) == "Running"


def test_native_sidecars_count_in_ready_and_restarts():
    init = [
        {
            "name": "cloud-sql-proxy",
            "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14",
            "restartPolicy": "Always",
        }
    ]
    sidecar = running("cloud-sql-proxy", restarts=2, last_exit=300)
    p = pod([running()], init=init, init_statuses=[sidecar], conditions=[cond("Initialized"), cond("Ready")])
    assert pod_status(p) == "Running"
    assert ready(p) == (2, 2)
    assert restarts(p) == (2, NOW - timedelta(seconds=300))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-2, "<invalid>"),
        (-0.5, "0s"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (8 * 86400 - 1, "7d23h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (771 * 86400, "2y41d"),
        (8 * 365 * 86400 + 86400, "8y"),
    ],
)
def test_human_duration_matches_kubectl(seconds, text):
    assert human_duration(seconds) == text


def test_age_of_timestamps_strings_and_missing_ones():
    assert age("2025-03-14T09:29:55Z", NOW) == "5s"
    assert age("2025-03-12T06:29:59.500000Z", NOW) == "2d3h"
    assert age(NOW - timedelta(minutes=3, seconds=2), NOW) == "3m2s"
    assert age(None, NOW) == "<unknown>"
    assert age("not a time", NOW) == "<unknown>"


@pytest.mark.parametrize(
    ("status", "level"),
    [
        ("Running", "ok"),
        ("Completed", "done"),
        ("Complete", "done"),
        ("Pending", "warn"),
        ("ContainerCreating", "warn"),
        ("Terminating", "warn"),
        ("Init:0/2", "warn"),
        ("ImagePullBackOff", "error"),
        ("ErrImagePull", "error"),
        ("CrashLoopBackOff", "error"),
        ("CreateContainerConfigError", "error"),
        ("Init:CrashLoopBackOff", "error"),
        ("Error", "error"),
        ("OOMKilled", "error"),
        ("Failed", "error"),
        ("ExitCode:1", "error"),
    ],
)
def test_severity_colours_errors_red_and_progress_yellow(status, level):
    assert severity(status) == level
