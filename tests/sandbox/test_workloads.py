"""The workload controllers bring Deployments, StatefulSets, Jobs, CronJobs and Services to life as a cluster would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.conftest import RunningSandbox, wait_for
from tests.sandbox.kube import Kubectl

SCENARIOS = Path(__file__).parent / "scenarios"


def api(rs: RunningSandbox) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(rs.kubeconfig))


def deployment(name: str = "web", image: str = "nginx:1.27", replicas: int = 3, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}]
                },
            },
            **spec,
        },
    }


def job(name: str, image: str = "registry.example.com/tools:1.0", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": image, "command": ["run"]}]}
            },
            **spec,
        },
    }


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or ()}


def events(rs: RunningSandbox, namespace: str, name: str) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"])
        for e in sorted(rs.list("v1", "Event", namespace), key=lambda e: int(e["metadata"]["resourceVersion"]))
        if e["involvedObject"]["name"] == name
    ]


def owned(
    rs: RunningSandbox, api_version: str, kind: str, namespace: str, owner: dict[str, Any]
) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [
        o
        for o in rs.list(api_version, kind, namespace)
        if any(r.get("uid") == uid and r.get("controller") for r in o["metadata"].get("ownerReferences") or ())
    ]


def rolled_out(rs: RunningSandbox, name: str, namespace: str = "default") -> dict[str, Any] | None:
    d = rs.get("apps/v1", "Deployment", namespace, name)
    st = (d or {}).get("status") or {}
    want = d["spec"]["replicas"] if d else -1
    done = (
        (
            st.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and st.get("updatedReplicas", 0) == want
            and st.get("replicas", 0) == want
            and st.get("availableReplicas", 0) == want
            and conditions(d).get("Progressing", {}).get("reason") == "NewReplicaSetAvailable"
        )
        if d
        else False
    )
    return d if done else None


@pytest.fixture
def rs(sandbox_factory) -> RunningSandbox:
    return sandbox_factory("empty", clock_speed=100)


# --- Deployments ------------------------------------------------------------------------------


def test_deployment_becomes_available_with_three_ready_pods(rs):
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment())
    d = wait_for(lambda: rolled_out(rs, "web"), what="deployment web rolled out")

    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    cond = conditions(d)
    assert (cond["Available"]["status"], cond["Available"]["reason"], cond["Available"]["message"]) == (
        "True",
        "MinimumReplicasAvailable",
        "Deployment has minimum availability.",
    )
    (replicaset,) = owned(rs, "apps/v1", "ReplicaSet", "default", d)
    hash_ = replicaset["metadata"]["labels"]["pod-template-hash"]
    assert replicaset["metadata"]["name"] == f"web-{hash_}"
    assert replicaset["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash_}
    assert replicaset["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
    }
    assert cond["Progressing"]["message"] == f'ReplicaSet "web-{hash_}" has successfully progressed.'
    pods = owned(rs, "v1", "Pod", "default", replicaset)
    assert len(pods) == 3
    for pod in pods:
        assert (
            pod["metadata"]["name"].startswith(f"web-{hash_}-")
            and len(pod["metadata"]["name"]) == len(f"web-{hash_}-") + 5
        )
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": hash_}
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref["controller"] is True and ref["blockOwnerDeletion"] is True and ref["kind"] == "ReplicaSet"
        assert conditions(pod)["Ready"]["status"] == "True"
    assert ("ScalingReplicaSet", f"Scaled up replica set web-{hash_} to 3") in events(rs, "default", "web")
    created = [m for r, m in events(rs, "default", replicaset["metadata"]["name"]) if r == "SuccessfulCreate"]
    assert sorted(created) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)


def test_new_image_rolls_out_revision_2_and_rollout_undo_brings_revision_3(rs, tmp_path):
    kubectl = Kubectl(rs, tmp_path / "kube-cache")
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment())
    first = wait_for(lambda: rolled_out(rs, "web"), what="first rollout")
    (old_rs,) = owned(rs, "apps/v1", "ReplicaSet", "default", first)

    kubectl("set", "image", "deployment/web", "app=nginx:1.28")
    status = kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert status.returncode == 0 and 'deployment "web" successfully rolled out' in status.stdout

    second = wait_for(lambda: rolled_out(rs, "web"), what="second rollout")
    assert second["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    by_name = {r["metadata"]["name"]: r for r in owned(rs, "apps/v1", "ReplicaSet", "default", second)}
    old = by_name.pop(old_rs["metadata"]["name"])
    (new,) = by_name.values()
    assert old["spec"]["replicas"] == 0 and old["status"]["replicas"] == 0
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    old_name, new_name = old["metadata"]["name"], new["metadata"]["name"]
    log = [m for r, m in events(rs, "default", "web") if r == "ScalingReplicaSet"]
    assert f"Scaled up replica set {new_name} to 1" in log
    assert f"Scaled down replica set {old_name} to 0 from 1" in log

    undo = kubectl("rollout", "undo", "deployment/web")
    assert "rolled back" in undo.stdout
    assert kubectl("rollout", "status", "deployment/web", "--timeout=60s").returncode == 0
    third = wait_for(lambda: rolled_out(rs, "web"), what="rollback")
    assert third["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert third["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    after = {r["metadata"]["name"]: r for r in owned(rs, "apps/v1", "ReplicaSet", "default", third)}
    assert set(after) == {old_name, new_name}  # the old ReplicaSet came back, no third one
    reused = after[old_name]
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert reused["spec"]["replicas"] == 3 and after[new_name]["spec"]["replicas"] == 0
    history = kubectl("rollout", "history", "deployment/web").stdout.split()
    assert "2" in history and "3" in history and "1" not in history


def test_scale_subresource_resizes_the_replicaset(rs):
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment(replicas=2))
    wait_for(lambda: rolled_out(rs, "web"), what="rollout")
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    d = wait_for(
        lambda: (
            rolled_out(rs, "web")
            if rs.get("apps/v1", "Deployment", "default", "web")["spec"]["replicas"] == 5
            else None
        )
    )
    assert d["status"]["readyReplicas"] == 5
    (replicaset,) = owned(rs, "apps/v1", "ReplicaSet", "default", d)
    assert replicaset["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    name = replicaset["metadata"]["name"]
    assert ("ScalingReplicaSet", f"Scaled up replica set {name} to 5 from 2") in events(rs, "default", "web")

    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}})
    wait_for(lambda: len(owned(rs, "v1", "Pod", "default", replicaset)) == 1, what="scale down to 1")
    deleted = [m for r, m in events(rs, "default", name) if r == "SuccessfulDelete"]
    assert len(deleted) == 4


def test_deleting_a_deployment_removes_its_replicasets_and_pods(rs):
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment())
    wait_for(lambda: rolled_out(rs, "web"), what="rollout")
    apps.delete_namespaced_deployment("web", "default")
    wait_for(
        lambda: not rs.list("apps/v1", "ReplicaSet", "default") and not rs.list("v1", "Pod", "default"), what="cascade"
    )


def test_recreate_strategy_stops_old_pods_before_starting_new_ones(rs):
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment(replicas=2, strategy={"type": "Recreate"}))
    wait_for(lambda: rolled_out(rs, "web"), what="rollout")
    overlap: list[int] = []

    def watch(type_, rt, obj, old):
        if rt.kind == "Pod" and type_ == "ADDED":
            images = {p["spec"]["containers"][0]["image"] for p in rs.sb.store.list(rt, "default")}
            overlap.append(len(images))

    rs.read(rs.sb.store.listen, watch)
    apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}
    )
    d = wait_for(
        lambda: (
            rolled_out(rs, "web")
            if rs.get("apps/v1", "Deployment", "default", "web")["metadata"]["generation"] == 2
            else None
        )
    )
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert overlap and max(overlap) == 1  # no new pod was created while an old one existed


def test_paused_deployment_does_not_roll_out_until_resumed(rs):
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment(replicas=1))
    wait_for(lambda: rolled_out(rs, "web"), what="rollout")
    apps.patch_namespaced_deployment("web", "default", {"spec": {"paused": True}})
    wait_for(
        lambda: (
            conditions(rs.get("apps/v1", "Deployment", "default", "web"))["Progressing"]["reason"] == "DeploymentPaused"
        )
    )
    apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"metadata": {"labels": {"app": "web", "v": "2"}}}}}
    )
    d = wait_for(
        lambda: (x := rs.get("apps/v1", "Deployment", "default", "web"))["status"]["observedGeneration"] == 3 and x
    )
    assert len(owned(rs, "apps/v1", "ReplicaSet", "default", d)) == 1
    apps.patch_namespaced_deployment("web", "default", {"spec": {"paused": False}})
    d = wait_for(
        lambda: (
            rolled_out(rs, "web")
            if rs.get("apps/v1", "Deployment", "default", "web")["metadata"]["generation"] == 4
            else None
        )
    )
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def test_stuck_rollout_reports_progress_deadline_exceeded(rs):
    apps = client.AppsV1Api(api(rs))
    big = deployment(replicas=2, progressDeadlineSeconds=30)
    big["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "missing"}  # never schedulable
    apps.create_namespaced_deployment("default", big)
    d = wait_for(
        lambda: (
            (x := rs.get("apps/v1", "Deployment", "default", "web"))
            and conditions(x).get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded"
            and x
        )
    )
    (replicaset,) = owned(rs, "apps/v1", "ReplicaSet", "default", d)
    prog = conditions(d)["Progressing"]
    assert (
        prog["status"] == "False"
        and prog["message"] == f'ReplicaSet "{replicaset["metadata"]["name"]}" has timed out progressing.'
    )
    assert conditions(d)["Available"]["reason"] == "MinimumReplicasUnavailable"


def test_revision_history_limit_keeps_only_the_newest_old_replicasets(rs):
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment(replicas=1, revisionHistoryLimit=1))
    wait_for(lambda: rolled_out(rs, "web"), what="rollout 1")
    for generation, tag in ((2, "1.28"), (3, "1.29")):
        apps.patch_namespaced_deployment(
            "web",
            "default",
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"nginx:{tag}"}]}}}},
        )
        d = wait_for(
            lambda g=generation: (x := rolled_out(rs, "web")) and x["metadata"]["generation"] == g and x,
            what=f"rollout {generation}",
        )
    left = wait_for(
        lambda: len(x := owned(rs, "apps/v1", "ReplicaSet", "default", d)) == 2 and x, what="history pruned"
    )
    revisions = sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in left)
    assert revisions == ["2", "3"]


# --- ReplicaSets ------------------------------------------------------------------------------


def test_replicaset_adopts_a_matching_orphan_and_replaces_deleted_pods(rs):
    core, apps = client.CoreV1Api(api(rs)), client.AppsV1Api(api(rs))
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "stray", "labels": {"app": "cache"}},
            "spec": {"containers": [{"name": "c", "image": "redis:7"}]},
        },
    )
    apps.create_namespaced_replica_set(
        "default",
        {
            "metadata": {"name": "cache"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "cache"}},
                "template": {
                    "metadata": {"labels": {"app": "cache"}},
                    "spec": {"containers": [{"name": "c", "image": "redis:7"}]},
                },
            },
        },
    )
    replicaset = wait_for(
        lambda: (
            (x := rs.get("apps/v1", "ReplicaSet", "default", "cache")) and x["status"].get("readyReplicas") == 2 and x
        )
    )
    pods = owned(rs, "v1", "Pod", "default", replicaset)
    assert "stray" in {p["metadata"]["name"] for p in pods} and len(pods) == 2
    victim = next(p["metadata"]["name"] for p in pods if p["metadata"]["name"] != "stray")
    core.delete_namespaced_pod(victim, "default")
    wait_for(
        lambda: (
            len(owned(rs, "v1", "Pod", "default", replicaset)) == 2
            and victim not in {p["metadata"]["name"] for p in owned(rs, "v1", "Pod", "default", replicaset)}
        )
    )
    status = rs.get("apps/v1", "ReplicaSet", "default", "cache")["status"]
    assert status["fullyLabeledReplicas"] == 2 and status["observedGeneration"] == 1


# --- StatefulSets -----------------------------------------------------------------------------


def test_statefulset_creates_pods_in_order_with_their_claims(rs, tmp_path):
    order: list[tuple[str, bool]] = []
    store = rs.sb.store

    def watch(type_, rt, obj, old):
        if rt.kind == "Pod" and type_ == "ADDED" and obj["metadata"]["name"].startswith("db-"):
            ordinal = int(obj["metadata"]["name"].rsplit("-", 1)[1])
            prev = store.get(rt, "default", f"db-{ordinal - 1}") if ordinal else None
            ready = ordinal == 0 or bool(
                prev and prev["status"].get("phase") == "Running" and conditions(prev)["Ready"]["status"] == "True"
            )
            order.append((obj["metadata"]["name"], ready))

    rs.read(store.listen, watch)
    apps = client.AppsV1Api(api(rs))
    apps.create_namespaced_stateful_set(
        "default",
        {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 3,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    }
                ],
            },
        },
    )
    sts = wait_for(
        lambda: (x := rs.get("apps/v1", "StatefulSet", "default", "db")) and x["status"].get("readyReplicas") == 3 and x
    )
    assert order == [("db-0", True), ("db-1", True), ("db-2", True)]
    st = sts["status"]
    assert (
        st["replicas"] == 3
        and st["currentReplicas"] == 3
        and st["updatedReplicas"] == 3
        and st["availableReplicas"] == 3
    )
    assert st["currentRevision"] == st["updateRevision"] and st["updateRevision"].startswith("db-")
    pod = rs.get("v1", "Pod", "default", "db-1")
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "db-1" and labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"] == st["updateRevision"]
    assert pod["spec"]["hostname"] == "db-1" and pod["spec"]["subdomain"] == "db"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}} in pod["spec"]["volumes"]
    pvc = wait_for(
        lambda: (
            (x := rs.get("v1", "PersistentVolumeClaim", "default", "data-db-1"))
            and x["status"].get("phase") == "Bound"
            and x
        )
    )
    assert pvc["spec"]["volumeName"] == f"pvc-{pvc['metadata']['uid']}" and pvc["status"]["capacity"] == {
        "storage": "1Gi"
    }
    log = [m for r, m in events(rs, "default", "db") if r == "SuccessfulCreate"]
    assert log[:2] == [
        "create Claim data-db-0 Pod db-0 in StatefulSet db success",
        "create Pod db-0 in StatefulSet db successful",
    ]

    # a new template rolls from the highest ordinal down
    apps.patch_namespaced_stateful_set(
        "db", "default", {"spec": {"template": {"spec": {"containers": [{"name": "pg", "image": "postgres:17"}]}}}}
    )
    sts = wait_for(
        lambda: (
            (x := rs.get("apps/v1", "StatefulSet", "default", "db"))
            and x["status"].get("observedGeneration") == 2
            and x["status"].get("updatedReplicas") == 3
            and x["status"].get("readyReplicas") == 3
            and x["status"]["currentRevision"] == x["status"]["updateRevision"]
            and x
        )
    )
    deletes = [m for r, m in events(rs, "default", "db") if r == "SuccessfulDelete"]
    assert deletes == [f"delete Pod db-{i} in StatefulSet db successful" for i in (2, 1, 0)]
    status = Kubectl(rs, tmp_path / "kube-cache")("rollout", "status", "statefulset/db", "--timeout=30s")
    # the defaulted `partition: 0` makes kubectl report it as a partitioned roll out, as on a cluster
    assert status.stdout == "partitioned roll out complete: 3 new pods have been updated...\n"


def test_claim_with_unknown_storage_class_stays_pending(rs):
    core = client.CoreV1Api(api(rs))
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": "fast"},
            "spec": {
                "storageClassName": "premium-ssd",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5Gi"}},
            },
        },
    )
    wait_for(
        lambda: (
            ("ProvisioningFailed", 'storageclass.storage.k8s.io "premium-ssd" not found')
            in events(rs, "default", "fast")
        )
    )
    assert rs.get("v1", "PersistentVolumeClaim", "default", "fast")["status"]["phase"] == "Pending"


# --- Jobs and CronJobs ------------------------------------------------------------------------


def test_job_with_three_completions_two_at_a_time_completes(rs):
    batch = client.BatchV1Api(api(rs))
    most_active: list[int] = []
    store = rs.sb.store

    def watch(type_, rt, obj, old):
        if rt.kind == "Pod" and obj["metadata"].get("labels", {}).get("job-name") == "report":
            most_active.append(
                sum(1 for p in store.list(rt, "default") if p["status"].get("phase") not in ("Succeeded", "Failed"))
            )

    rs.read(store.listen, watch)
    batch.create_namespaced_job("default", job("report", completions=3, parallelism=2))
    done = wait_for(lambda: (x := rs.get("batch/v1", "Job", "default", "report")) and "Complete" in conditions(x) and x)
    st = done["status"]
    assert st["succeeded"] == 3 and "failed" not in st and "active" not in st and st["ready"] == 0
    assert st["startTime"] <= st["completionTime"] and st["uncountedTerminatedPods"] == {}
    assert [c["type"] for c in st["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    for c in st["conditions"]:
        assert (c["status"], c["reason"], c["message"]) == (
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        )
    assert max(most_active) == 2
    pods = owned(rs, "v1", "Pod", "default", done)
    assert len(pods) == 3
    for p in pods:
        labels = p["metadata"]["labels"]
        assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "report"
        assert labels["controller-uid"] == labels["batch.kubernetes.io/controller-uid"] == done["metadata"]["uid"]
    log = events(rs, "default", "report")
    assert [r for r, _ in log].count("SuccessfulCreate") == 3 and log[-1] == ("Completed", "Job completed")


def test_indexed_job_runs_one_pod_per_completion_index(rs):
    batch = client.BatchV1Api(api(rs))
    batch.create_namespaced_job("default", job("shard", completions=3, parallelism=3, completionMode="Indexed"))
    done = wait_for(lambda: (x := rs.get("batch/v1", "Job", "default", "shard")) and "Complete" in conditions(x) and x)
    assert done["status"]["completedIndexes"] == "0-2" and done["status"]["succeeded"] == 3
    pods = owned(rs, "v1", "Pod", "default", done)
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"]
    for ix, p in by_index.items():
        assert p["metadata"]["name"].startswith(f"shard-{ix}-")
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == ix
        assert p["spec"]["hostname"] == f"shard-{ix}"
        env = p["spec"]["containers"][0]["env"]
        assert {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {
                "fieldRef": {
                    "apiVersion": "v1",
                    "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                }
            },
        } in env or any(e["name"] == "JOB_COMPLETION_INDEX" for e in env)


def test_job_whose_container_fails_hits_the_backoff_limit(sandbox_factory):
    rs = sandbox_factory(str(SCENARIOS / "workloads.yaml"), clock_speed=100)
    batch = client.BatchV1Api(api(rs))
    batch.create_namespaced_job("default", job("migrate", image="registry.example.com/migrate:1.0", backoffLimit=2))
    failed = wait_for(
        lambda: (x := rs.get("batch/v1", "Job", "default", "migrate")) and "Failed" in conditions(x) and x, timeout=30
    )
    st = failed["status"]
    assert st["failed"] == 3 and "succeeded" not in st and "active" not in st
    assert [c["type"] for c in st["conditions"]] == ["FailureTarget", "Failed"]
    for c in st["conditions"]:
        assert (c["reason"], c["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in events(rs, "default", "migrate")
    pods = owned(rs, "v1", "Pod", "default", failed)
    assert len(pods) == 3 and all(p["status"]["phase"] == "Failed" for p in pods)


def test_job_ttl_deletes_it_after_it_finishes(rs):
    batch = client.BatchV1Api(api(rs))
    batch.create_namespaced_job("default", job("once", ttlSecondsAfterFinished=100))
    wait_for(
        lambda: (
            rs.get("batch/v1", "Job", "default", "once")
            and "Complete" in conditions(rs.get("batch/v1", "Job", "default", "once"))
        )
    )
    wait_for(
        lambda: rs.get("batch/v1", "Job", "default", "once") is None and not rs.list("v1", "Pod", "default"), what="ttl"
    )


def test_cronjob_every_minute_creates_jobs_and_prunes_history(rs):
    batch = client.BatchV1Api(api(rs))
    batch.create_namespaced_cron_job(
        "default",
        {
            "metadata": {"name": "tick"},
            "spec": {
                "schedule": "*/1 * * * *",
                "successfulJobsHistoryLimit": 2,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {"restartPolicy": "Never", "containers": [{"name": "t", "image": "busybox:1.36"}]}
                        }
                    }
                },
            },
        },
    )
    wait_for(
        lambda: sum(1 for r, _ in events(rs, "default", "tick") if r == "SuccessfulDelete") >= 2,
        timeout=40,
        what="pruned jobs",
    )
    cj = rs.get("batch/v1", "CronJob", "default", "tick")
    jobs = owned(rs, "batch/v1", "Job", "default", cj)
    finished = [j for j in jobs if "Complete" in conditions(j)]
    assert len(finished) <= 2
    log = events(rs, "default", "tick")
    created = [m.removeprefix("Created job ") for r, m in log if r == "SuccessfulCreate"]
    assert len(created) >= 4
    minutes = [int(n.rsplit("-", 1)[1]) for n in created]
    assert minutes == sorted(minutes) and len(set(minutes)) == len(minutes)
    assert any(r == "SawCompletedJob" and m.endswith(", condition: Complete") for r, m in log)
    assert cj["status"]["lastScheduleTime"] and cj["status"]["lastSuccessfulTime"]
    j = jobs[-1]
    assert j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].endswith("Z")
    assert j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"


def test_backdated_cronjob_runs_only_its_most_recent_missed_schedule(sandbox_factory):
    rs = sandbox_factory(str(SCENARIOS / "workloads.yaml"), clock_speed=100)
    cj = wait_for(
        lambda: (
            (x := rs.get("batch/v1", "CronJob", "batch", "nightly"))
            and x.get("status", {}).get("lastScheduleTime")
            and x
        )
    )
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert cj["status"]["lastScheduleTime"] == midnight.strftime("%Y-%m-%dT%H:%M:%SZ")
    (only,) = rs.list("batch/v1", "Job", "batch")
    assert only["metadata"]["name"] == f"nightly-{int(midnight.timestamp()) // 60}"
    assert only["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == midnight.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


# --- Services, namespaces ---------------------------------------------------------------------


def test_endpoints_list_the_ready_pod_ips_with_named_ports(rs):
    core, apps = client.CoreV1Api(api(rs)), client.AppsV1Api(api(rs))
    apps.create_namespaced_deployment("default", deployment())
    core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web", "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    )
    wait_for(lambda: rolled_out(rs, "web"), what="rollout")

    def ready_subset():
        ep = rs.get("v1", "Endpoints", "default", "web")
        subsets = (ep or {}).get("subsets") or []
        return ep if len(subsets) == 1 and len(subsets[0].get("addresses") or ()) == 3 else None

    ep = wait_for(ready_subset, what="three ready addresses")
    pods = {
        p["metadata"]["name"]: p for p in rs.list("v1", "Pod", "default") if p["metadata"]["labels"].get("app") == "web"
    }
    (subset,) = ep["subsets"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [a["ip"] for a in subset["addresses"]] == sorted(p["status"]["podIP"] for p in pods.values())
    for a in subset["addresses"]:
        pod = pods[a["targetRef"]["name"]]
        assert a == {
            "ip": pod["status"]["podIP"],
            "nodeName": pod["spec"]["nodeName"],
            "targetRef": {
                "kind": "Pod",
                "namespace": "default",
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }
    assert ep["metadata"]["labels"] == {"tier": "front", "endpoints.kubernetes.io/managed-by": "endpoint-controller"}
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]

    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 0}})
    wait_for(
        lambda: "subsets" not in (rs.get("v1", "Endpoints", "default", "web") or {"subsets": 1}), what="empty endpoints"
    )


def test_kubernetes_service_points_at_the_api_server(rs):
    svc = wait_for(lambda: rs.get("v1", "Service", "default", "kubernetes"))
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["ports"][0]["port"] == 443
    ep = wait_for(lambda: rs.get("v1", "Endpoints", "default", "kubernetes"))
    assert ep["subsets"][0]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP"}]


def test_every_namespace_gets_a_default_service_account_and_root_ca(rs, tmp_path):
    core = client.CoreV1Api(api(rs))
    core.create_namespace({"metadata": {"name": "shop"}})
    wait_for(lambda: rs.get("v1", "ServiceAccount", "shop", "default"), what="default service account")
    cm = wait_for(lambda: rs.get("v1", "ConfigMap", "shop", "kube-root-ca.crt"))
    assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----\n")
    core.delete_namespaced_service_account("default", "shop")
    wait_for(lambda: rs.get("v1", "ServiceAccount", "shop", "default"), what="service account recreated")
    sa_names = json.loads(Kubectl(rs, tmp_path / "cache")("get", "serviceaccounts", "-A", "-o", "json").stdout)["items"]
    assert {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in sa_names} >= {
        ("default", "default"),
        ("shop", "default"),
    }
