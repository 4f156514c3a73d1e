"""Table responses: the cells `kubectl get` prints must be the real server's, state by state."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.resources import RESOURCES, by_kind
from sandbox.tables import column_definitions, human_duration, pod_status_reason, row_cells, table

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
POD = by_kind("v1", "Pod")
JOB = by_kind("batch/v1", "Job")


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(*statuses: dict[str, Any], phase: str = "Running", ready: bool = True, **extra: Any) -> dict[str, Any]:
    """A pod of `len(statuses)` containers created 10 minutes ago, with the given container statuses."""
    names = [s["name"] for s in statuses] or ["app"]
    status: dict[str, Any] = {"phase": phase, "containerStatuses": list(statuses)}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True"}]
    status.update(extra.pop("status", {}))
    obj = {
        "metadata": {"name": "web-7d4b9c-x2x9q", "namespace": "shop", "creationTimestamp": ago(600)},
        "spec": {"containers": [{"name": n, "image": f"{n}:1"} for n in names], "nodeName": "node-1"},
        "status": status,
    }
    obj.update(extra)
    return obj


def waiting(reason: str, name: str = "app", restarts: int = 0, last_finished: float | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": "..."}},
    }
    if last_finished is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(last_finished)}}
    return cs


def running(name: str = "app", ready: bool = True) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": ago(500)}}}


def terminated(reason: str, code: int, name: str = "app") -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"reason": reason, "exitCode": code}},
    }


def cells(obj: dict[str, Any], rt: Any = POD) -> list[Any]:
    return row_cells(rt, obj, NOW)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600 - 60, "7h59m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (8 * 86400, "8d"),
        (180 * 86400, "180d"),
        (730 * 86400 - 1, "729d"),
        (730 * 86400, "2y"),
        (771 * 86400, "2y41d"),
        (8 * 365 * 86400, "8y"),
    ],
)
def test_ages_read_like_kubectl(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_image_pull_backoff_pod_shows_the_waiting_reason() -> None:
    row = cells(pod(waiting("ImagePullBackOff"), phase="Pending", ready=False))
    assert row[:5] == ["web-7d4b9c-x2x9q", "0/1", "ImagePullBackOff", "0", "10m"]


def test_err_image_pull_and_container_creating() -> None:
    assert cells(pod(waiting("ErrImagePull"), phase="Pending", ready=False))[2] == "ErrImagePull"
    assert cells(pod(waiting("ContainerCreating"), phase="Pending", ready=False))[2] == "ContainerCreating"


def test_crash_loop_shows_restarts_with_the_time_of_the_last_one() -> None:
    row = cells(pod(waiting("CrashLoopBackOff", restarts=5, last_finished=23), ready=False))
    assert row[1:4] == ["0/1", "CrashLoopBackOff", "5 (23s ago)"]


def test_create_container_config_error_for_a_missing_secret_key() -> None:
    row = cells(pod(waiting("CreateContainerConfigError"), phase="Pending", ready=False))
    assert row[1:4] == ["0/1", "CreateContainerConfigError", "0"]


def test_pending_unscheduled_pod_has_no_node() -> None:
    unscheduled = pod(phase="Pending", ready=False, spec={"containers": [{"name": "app", "image": "a"}]})
    unscheduled["status"]["containerStatuses"] = []
    unscheduled["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    assert cells(unscheduled) == [
        "web-7d4b9c-x2x9q",
        "0/1",
        "Pending",
        "0",
        "10m",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]


def test_running_pod_wide_cells() -> None:
    p = pod(running(), status={"podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}]})
    assert cells(p) == ["web-7d4b9c-x2x9q", "1/1", "Running", "0", "10m", "10.244.1.7", "node-1", "<none>", "<none>"]


def test_completed_and_failed_pods_carry_row_conditions() -> None:
    done = pod(terminated("Completed", 0), phase="Succeeded", ready=False)
    failed = pod(terminated("Error", 1), phase="Failed", ready=False)
    assert cells(done)[1:3] == ["0/1", "Completed"]
    assert cells(failed)[1:3] == ["0/1", "Error"]
    rows = table(POD, [done, failed], NOW)["rows"]
    assert rows[0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
    ]
    assert rows[1]["conditions"][0]["reason"] == "Failed"
    assert list(rows[0]) == ["cells", "conditions", "object"]


def test_exit_without_reason_shows_exit_code_or_signal() -> None:
    code = pod({"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}})
    signal = pod(
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "signal": 9}}}
    )
    assert pod_status_reason(code) == "ExitCode:137"
    assert pod_status_reason(signal) == "Signal:9"


def test_completed_container_next_to_a_running_one_reads_running_or_not_ready() -> None:
    mixed = pod(terminated("Completed", 0, "job"), running("web"))
    assert pod_status_reason(mixed) == "Running"
    mixed["status"]["conditions"] = []
    assert pod_status_reason(mixed) == "NotReady"


def test_first_container_reason_wins() -> None:
    two = pod(waiting("CrashLoopBackOff", "api"), waiting("ImagePullBackOff", "sidecar"), ready=False)
    assert cells(two)[1:3] == ["0/2", "CrashLoopBackOff"]


def test_deleted_pod_is_terminating_unless_finished() -> None:
    p = pod(running(), metadata={"name": "x", "creationTimestamp": ago(5), "deletionTimestamp": ago(0)})
    assert pod_status_reason(p) == "Terminating"
    p["status"]["phase"] = "Succeeded"
    p["status"]["containerStatuses"] = [terminated("Completed", 0)]
    assert pod_status_reason(p) == "Completed"
    p["status"].update(phase="Running", reason="NodeLost")
    assert pod_status_reason(p) == "Unknown"


def test_init_container_states() -> None:
    p = pod(waiting("PodInitializing"), phase="Pending", ready=False)
    p["spec"]["initContainers"] = [{"name": "migrate", "image": "m"}, {"name": "warm", "image": "w"}]
    p["status"]["initContainerStatuses"] = [terminated("Completed", 0, "migrate"), running("warm", ready=False)]
    assert pod_status_reason(p) == "Init:1/2"
    p["status"]["initContainerStatuses"][1] = waiting("CrashLoopBackOff", "warm", restarts=3, last_finished=40)
    assert cells(p)[2:4] == ["Init:CrashLoopBackOff", "3 (40s ago)"]
    p["status"]["initContainerStatuses"][1] = terminated("Error", 1, "warm")
    assert pod_status_reason(p) == "Init:Error"
    p["status"]["initContainerStatuses"][1] = {"name": "warm", "state": {"terminated": {"exitCode": 2}}}
    assert pod_status_reason(p) == "Init:ExitCode:2"


def test_sidecar_init_containers_count_as_containers() -> None:
    p = pod(running("app"))
    p["spec"]["initContainers"] = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    p["status"]["initContainerStatuses"] = [{**running("proxy"), "started": True, "restartCount": 2}]
    p["status"]["conditions"].append({"type": "Initialized", "status": "True"})
    assert cells(p)[1:4] == ["2/2", "Running", "2"]


def test_scheduling_gated_pod() -> None:
    p = pod(phase="Pending", ready=False)
    p["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    assert pod_status_reason(p) == "SchedulingGated"


def test_readiness_gates_cell() -> None:
    p = pod(running())
    p["spec"]["readinessGates"] = [{"conditionType": "lb/ready"}, {"conditionType": "other"}]
    p["status"]["conditions"].append({"type": "lb/ready", "status": "True"})
    assert cells(p)[8] == "1/2"


def job(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "coditect-backend-migration", "creationTimestamp": ago(300)},
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}},
            "template": {"spec": {"containers": [{"name": "migrate", "image": "backend:v1"}]}},
        },
        "status": status,
    }


def test_job_status_completions_and_duration() -> None:
    complete = job(
        succeeded=1,
        startTime=ago(290),
        completionTime=ago(243),
        conditions=[{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}],
    )
    assert cells(complete, JOB) == [
        "coditect-backend-migration",
        "Complete",
        "1/1",
        "47s",
        "5m",
        "migrate",
        "backend:v1",
        "batch.kubernetes.io/controller-uid=u-1",
    ]
    failed = job(failed=7, startTime=ago(290), conditions=[{"type": "Failed", "status": "True"}])
    assert cells(failed, JOB)[1:4] == ["Failed", "0/1", "4m50s"]
    started = job(active=1, startTime=ago(200))
    assert cells(started, JOB)[1:4] == ["Running", "0/1", "3m20s"]
    assert cells(job(), JOB)[1:4] == ["Running", "0/1", ""]
    suspended = job(conditions=[{"type": "Suspended", "status": "True"}])
    assert cells(suspended, JOB)[1] == "Suspended"
    target = job(conditions=[{"type": "FailureTarget", "status": "True"}])
    assert cells(target, JOB)[1] == "FailureTarget"


def test_job_without_completions_shows_parallelism() -> None:
    j = job(succeeded=2)
    j["spec"] = {**j["spec"], "completions": None, "parallelism": 3}
    assert cells(j, JOB)[2] == "2/1 of 3"
    j["spec"]["parallelism"] = 1
    assert cells(j, JOB)[2] == "2/1"


def test_other_kinds() -> None:
    deploy = {
        "metadata": {"name": "coditect-backend", "creationTimestamp": ago(86400 * 2 + 3600 * 3)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "backend", "tier": "api"}},
            "template": {"spec": {"containers": [{"name": "api", "image": "b:1"}, {"name": "log", "image": "l:2"}]}},
        },
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1},
    }
    assert cells(deploy, by_kind("apps/v1", "Deployment")) == [
        "coditect-backend",
        "1/2",
        2,
        1,
        "2d3h",
        "api,log",
        "b:1,l:2",
        "app=backend,tier=api",
    ]
    svc = {
        "metadata": {"name": "redis", "creationTimestamp": ago(30)},
        "spec": {
            "type": "NodePort",
            "clusterIPs": ["10.96.0.12"],
            "ports": [{"port": 6379, "protocol": "TCP", "nodePort": 30079}, {"port": 53, "protocol": "UDP"}],
            "selector": {"app": "redis"},
        },
    }
    assert cells(svc, by_kind("v1", "Service")) == [
        "redis",
        "NodePort",
        "10.96.0.12",
        "<none>",
        "6379:30079/TCP,53/UDP",
        "30s",
        "app=redis",
    ]
    node = {
        "metadata": {
            "name": "gke-primary-1",
            "creationTimestamp": ago(86400 * 40),
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.32.2", "osImage": "COS", "containerRuntimeVersion": "containerd://1.7"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n"}],
        },
    }
    assert cells(node, by_kind("v1", "Node")) == [
        "gke-primary-1",
        "Ready,SchedulingDisabled",
        "control-plane,worker",
        "40d",
        "v1.32.2",
        "10.0.0.2",
        "<none>",
        "COS",
        "<unknown>",
        "containerd://1.7",
    ]
    event = {
        "metadata": {"name": "web.17f", "creationTimestamp": ago(90)},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "type": "Warning",
        "reason": "Failed",
        "message": 'Error: secret "backend-secrets" not found\n',
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(90),
        "lastTimestamp": ago(12),
        "count": 5,
    }
    assert cells(event, by_kind("v1", "Event")) == [
        "12s",
        "Warning",
        "Failed",
        "pod/web",
        "spec.containers{app}",
        "kubelet, node-1",
        'Error: secret "backend-secrets" not found',
        "90s",
        5,
        "web.17f",
    ]
    cron = {
        "metadata": {"name": "coditect-nightly-report", "creationTimestamp": ago(7200)},
        "spec": {"schedule": "0 3 * * *", "suspend": False, "jobTemplate": {"spec": {"template": {"spec": {}}}}},
        "status": {"active": [{"name": "j"}], "lastScheduleTime": ago(65)},
    }
    assert cells(cron, by_kind("batch/v1", "CronJob")) == [
        "coditect-nightly-report",
        "0 3 * * *",
        "<none>",
        "False",
        1,
        "65s",
        "120m",
        "",
        "",
        "<none>",
    ]
    secret = {
        "metadata": {"name": "backend-secrets", "creationTimestamp": ago(1)},
        "type": "Opaque",
        "data": {"a": "", "b": ""},
    }
    assert cells(secret, by_kind("v1", "Secret")) == ["backend-secrets", "Opaque", 2, "1s"]
    cm = {"metadata": {"name": "c", "creationTimestamp": ago(1)}, "data": {"a": "1"}, "binaryData": {"b": ""}}
    assert cells(cm, by_kind("v1", "ConfigMap")) == ["c", 2, "1s"]
    ns = {"metadata": {"name": "coditect-staging", "creationTimestamp": ago(1)}, "status": {"phase": "Active"}}
    assert cells(ns, by_kind("v1", "Namespace")) == ["coditect-staging", "Active", "1s"]
    pvc = {
        "metadata": {"name": "data", "creationTimestamp": ago(1)},
        "spec": {"volumeName": "pv-1", "storageClassName": "standard", "volumeMode": "Filesystem"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
        },
    }
    assert cells(pvc, by_kind("v1", "PersistentVolumeClaim")) == [
        "data",
        "Bound",
        "pv-1",
        "10Gi",
        "RWO,RWX",
        "standard",
        "<unset>",
        "1s",
        "Filesystem",
    ]


def test_endpoints_cell_lists_three_then_counts_the_rest() -> None:
    ep = {
        "metadata": {"name": "web", "creationTimestamp": ago(1)},
        "subsets": [
            {
                "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)],
                "ports": [{"port": 80}],
            }
        ],
    }
    assert cells(ep, by_kind("v1", "Endpoints"))[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."
    assert cells({"metadata": {"name": "x"}}, by_kind("v1", "Endpoints"))[1:] == ["<none>", "<unknown>"]


def test_every_kind_has_one_cell_per_column() -> None:
    for rt in RESOURCES:
        columns = column_definitions(rt)
        assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in columns)
        assert len(row_cells(rt, {"metadata": {"name": "x"}}, NOW)) == len(columns), rt.kind


def test_table_shape_and_partial_object_metadata() -> None:
    p = pod(running())
    out = table(POD, [p], NOW, resource_version="42", continue_token="abc", remaining=7)
    assert list(out) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert out["kind"] == "Table" and out["apiVersion"] == "meta.k8s.io/v1"
    assert out["metadata"] == {"resourceVersion": "42", "continue": "abc", "remainingItemCount": 7}
    assert [c["name"] for c in out["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    assert [c["priority"] for c in out["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert out["columnDefinitions"][0]["format"] == "name"
    assert out["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": p["metadata"],
    }
    assert table(POD, [p], NOW, include_object="Object")["rows"][0]["object"] is p
    assert table(POD, [p], NOW, include_object="None")["rows"][0]["object"] is None
    follow_up = table(POD, [p], NOW, with_columns=False)
    assert follow_up["columnDefinitions"] is None and follow_up["metadata"] == {}
    assert table(POD, [], NOW)["rows"] == []
    with pytest.raises(ValueError, match='unrecognized includeObject value: "All"'):
        table(POD, [p], NOW, include_object="All")


def test_job_columns_have_the_1_32_status_column() -> None:
    names = [c["name"] for c in column_definitions(JOB)]
    assert names == ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]
    cron = [c["name"] for c in column_definitions(by_kind("batch/v1", "CronJob"))]
    assert cron[:7] == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"]


def test_ten_thousand_pods_render_fast() -> None:
    pods = [
        pod(
            waiting("CrashLoopBackOff", restarts=i % 7, last_finished=i % 300),
            running("sidecar"),
            ready=False,
            metadata={"name": f"web-{i}", "namespace": "load", "creationTimestamp": ago(i)},
        )
        for i in range(10_000)
    ]
    start = time.perf_counter()
    out = table(POD, pods, NOW)
    elapsed = time.perf_counter() - start
    print(f"\n10,000 pods -> Table in {elapsed * 1000:.0f} ms")
    assert len(out["rows"]) == 10_000
    assert out["rows"][8]["cells"][3] == "1 (8s ago)"
