"""The demo cluster shows every incident exactly as a real 1.32 cluster would (INCIDENTS.md, "Exact texts").

Each test reads what a real client reads -- pod status, Events, `kubectl logs` -- and
compares character for character; the fix-forward tests walk the migration Job from I1
through I2 and I3 to a completed run, fixing it the way an operator would.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client, config

from tests.conftest import RunningSandbox, wait_for
from tests.sandbox.kube import Kubectl, request

NS = "coditect-staging"
FRONTEND_IMAGE = "gcr.io/coditect-cloud-infra/frontend:v1.0.6-staging"
NOT_FOUND = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{FRONTEND_IMAGE}": '
    f'failed to resolve reference "{FRONTEND_IMAGE}": {FRONTEND_IMAGE}: not found'
)
NODE_SELECTOR_MISMATCH = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)
MISSING_KEY = "couldn't find key db-password in Secret coditect-staging/backend-secrets"
REDIS_DOWN = "redis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known."
SECRET_KEY_EMPTY = "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."
NO_MODULE = "ModuleNotFoundError: No module named 'coditect_license'"
MIGRATION = "coditect-backend-migration"


@pytest.fixture
def demo(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory("demo", clock_speed=100)


@pytest.fixture
def kubectl(demo: RunningSandbox, tmp_path: Path) -> Kubectl:
    return Kubectl(demo, tmp_path / "kube-cache")


def api(rs: RunningSandbox) -> client.ApiClient:
    return config.new_client_from_config(str(rs.kubeconfig))


def pods(rs: RunningSandbox, app: str, ns: str = NS) -> list[dict[str, Any]]:
    return [
        p
        for p in rs.list("v1", "Pod", ns)
        if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == app
        or (p["metadata"].get("labels") or {}).get("k8s-app") == app
    ]


def events_of(rs: RunningSandbox, pod: dict[str, Any]) -> list[dict[str, Any]]:
    uid = pod["metadata"]["uid"]
    evs = [e for e in rs.list("v1", "Event", pod["metadata"]["namespace"]) if e["involvedObject"].get("uid") == uid]
    return sorted(evs, key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))


def condition(pod: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in pod.get("status", {}).get("conditions") or () if c["type"] == type_), None)


def container_status(pod: dict[str, Any], name: str | None = None) -> dict[str, Any] | None:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return next((s for s in statuses if name is None or s["name"] == name), None)


def waiting(pod: dict[str, Any]) -> dict[str, Any]:
    s = container_status(pod)
    return ((s or {}).get("state") or {}).get("waiting") or {}


def test_wrong_nodepool_leaves_workers_pending_with_the_schedulers_words(demo: RunningSandbox) -> None:
    workers = wait_for(
        lambda: len(pods(demo, "coditect-worker")) == 2 and pods(demo, "coditect-worker"), what="2 worker pods"
    )

    def unschedulable() -> bool:
        return all(
            (c := condition(demo.get("v1", "Pod", NS, p["metadata"]["name"]) or {}, "PodScheduled")) is not None
            and c["status"] == "False"
            for p in workers
        )

    wait_for(unschedulable, what="PodScheduled=False on both workers")
    for p in workers:
        pod = demo.get("v1", "Pod", NS, p["metadata"]["name"])
        assert pod is not None and not pod["spec"].get("nodeName")
        cond = condition(pod, "PodScheduled")
        assert cond is not None
        assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", NODE_SELECTOR_MISMATCH)
        failed = [e for e in events_of(demo, pod) if e["reason"] == "FailedScheduling"]
        assert [(e["type"], e["message"], e["source"]["component"]) for e in failed] == [
            ("Warning", NODE_SELECTOR_MISMATCH, "default-scheduler")
        ]


def test_wrong_registry_backs_off_pulling_with_containerds_not_found(demo: RunningSandbox) -> None:
    frontends = wait_for(
        lambda: len(pods(demo, "coditect-frontend")) == 2 and pods(demo, "coditect-frontend"), what="frontend pods"
    )
    start_rv = min(int(p["metadata"]["resourceVersion"]) for p in frontends)

    def backing_off() -> list[dict[str, Any]] | None:
        ps = pods(demo, "coditect-frontend")
        return ps if all(waiting(p).get("reason") == "ImagePullBackOff" for p in ps) else None

    for pod in wait_for(backing_off, what="ImagePullBackOff on both frontend pods"):
        state = waiting(pod)
        assert state["message"] == f'Back-off pulling image "{FRONTEND_IMAGE}": ErrImagePull: {NOT_FOUND}'
        assert container_status(pod)["image"] == FRONTEND_IMAGE
        first_five = [
            (e["type"], e["reason"], e["message"]) for e in events_of(demo, pod) if e["reason"] != "Scheduled"
        ][:5]
        assert first_five == [
            ("Normal", "Pulling", f'Pulling image "{FRONTEND_IMAGE}"'),
            ("Warning", "Failed", f'Failed to pull image "{FRONTEND_IMAGE}": {NOT_FOUND}'),
            ("Warning", "Failed", "Error: ErrImagePull"),
            ("Normal", "BackOff", f'Back-off pulling image "{FRONTEND_IMAGE}"'),
            ("Warning", "Failed", "Error: ImagePullBackOff"),
        ]
    # ErrImagePull comes first, with the bare error: read it from the watch history, as kubectl -w would
    selector = "labelSelector=app.kubernetes.io%2Fname%3Dcoditect-frontend"
    path = f"/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion={start_rv}&timeoutSeconds=1&{selector}"
    code, body = request(demo, "GET", path)
    assert code == 200, body
    seen: list[tuple[str, str]] = []
    for line in body.splitlines() if isinstance(body, str) else [orjson.dumps(body).decode()]:
        obj = orjson.loads(line)["object"]
        for s in obj.get("status", {}).get("containerStatuses") or ():
            w = s["state"].get("waiting")
            if w:
                seen.append((w["reason"], w.get("message", "")))
    assert ("ErrImagePull", NOT_FOUND) in seen
    reasons = [r for r, _ in seen if r in ("ErrImagePull", "ImagePullBackOff")]
    assert reasons.index("ErrImagePull") < reasons.index("ImagePullBackOff")


def test_missing_secret_key_stops_the_migration_job_at_container_config(demo: RunningSandbox) -> None:
    def blocked() -> dict[str, Any] | None:
        for p in pods(demo, MIGRATION):
            if waiting(p).get("reason") == "CreateContainerConfigError":
                return p
        return None

    pod = wait_for(blocked, what="CreateContainerConfigError on the migration pod")
    assert waiting(pod) == {"reason": "CreateContainerConfigError", "message": MISSING_KEY}
    assert pod["status"]["phase"] == "Pending"
    wait_for(
        lambda: any(e["message"] == f"Error: {MISSING_KEY}" for e in events_of(demo, pod)),
        what="the Failed event",
    )
    failed = next(e for e in events_of(demo, pod) if e["message"] == f"Error: {MISSING_KEY}")
    assert (failed["type"], failed["reason"], failed["source"]["component"]) == ("Warning", "Failed", "kubelet")
    assert failed["involvedObject"]["fieldPath"] == "spec.containers{migrate}"


def test_missing_redis_crash_loops_the_api_and_previous_logs_show_why(demo: RunningSandbox, kubectl: Kubectl) -> None:
    def looping() -> list[dict[str, Any]] | None:
        backends = pods(demo, "coditect-backend")
        ok = len(backends) == 2 and all(
            waiting(p).get("reason") == "CrashLoopBackOff" and container_status(p)["restartCount"] >= 2
            for p in backends
        )
        return backends if ok else None

    backends = wait_for(looping, what="both API pods in CrashLoopBackOff with 2+ restarts")
    for pod in backends:
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        state = waiting(pod)
        assert re.fullmatch(
            rf"back-off (10s|20s|40s|1m20s|2m40s|5m0s) restarting failed container=backend pod={name}_{NS}\({uid}\)",
            state["message"],
        ), state["message"]
        status = container_status(pod)
        last = status["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (1, "Error")
        assert last["containerID"].startswith("containerd://") and len(last["containerID"]) == len("containerd://") + 64
        assert pod["status"]["phase"] == "Running"
        assert condition(pod, "Ready")["message"] == "containers with unready status: [backend]"
        backoff = [e for e in events_of(demo, pod) if e["reason"] == "BackOff"]
        assert [(e["type"], e["message"]) for e in backoff] == [
            ("Warning", f"Back-off restarting failed container backend in pod {name}_{NS}({uid})")
        ]
        previous = kubectl("logs", "-n", NS, name, "--previous").stdout.splitlines()
        assert previous[-1] == REDIS_DOWN
        # the current log is the crashed run's while backing off (a freshly restarted run has printed nothing yet)
        wait_for(
            lambda n=name: kubectl("logs", "-n", NS, n).stdout.splitlines()[-1:] == [REDIS_DOWN],
            what="kubectl logs to show the crash",
        )
    before = container_status(demo.get("v1", "Pod", NS, backends[0]["metadata"]["name"]))["restartCount"]
    wait_for(
        lambda: container_status(demo.get("v1", "Pod", NS, backends[0]["metadata"]["name"]))["restartCount"] > before,
        what="another restart",
    )


def _migration_job(rs: RunningSandbox) -> dict[str, Any]:
    for obj in rs.sb.scenario.objects:
        if obj.get("kind") == "Job" and obj["metadata"]["name"] == MIGRATION:
            return copy.deepcopy(obj)
    raise AssertionError("the demo has no migration Job")


def _recreate_job(rs: RunningSandbox, job: dict[str, Any]) -> str:
    """Delete the Job (its template is immutable) and create it again, as the live fix plan does."""
    batch = client.BatchV1Api(api(rs))
    old = batch.read_namespaced_job(MIGRATION, NS)
    batch.delete_namespaced_job(MIGRATION, NS, propagation_policy="Background")
    wait_for(
        lambda: not [p for p in rs.list("v1", "Pod", NS) if _owned_by(p, old.metadata.uid)], what="old Job's pods gone"
    )
    wait_for(lambda: rs.get("batch/v1", "Job", NS, MIGRATION) is None, what="old Job gone")
    created = batch.create_namespaced_job(NS, job)
    return str(created.metadata.uid)


def _owned_by(pod: dict[str, Any], uid: str) -> bool:
    return any(r.get("uid") == uid for r in pod["metadata"].get("ownerReferences") or ())


def _failed_run_log(rs: RunningSandbox, kubectl: Kubectl, job_uid: str) -> list[str]:
    def failed_pod() -> dict[str, Any] | None:
        for p in rs.list("v1", "Pod", NS):
            s = container_status(p, "migrate") if _owned_by(p, job_uid) else None
            term = ((s or {}).get("state") or {}).get("terminated")
            if term and term["exitCode"] == 1:
                return p
        return None

    pod = wait_for(failed_pod, what="a migration pod that exited 1")
    assert pod["status"]["phase"] == "Failed"
    assert container_status(pod, "migrate")["state"]["terminated"]["reason"] == "Error"
    return kubectl("logs", "-n", NS, pod["metadata"]["name"]).stdout.splitlines()


def test_fixing_the_migration_job_surfaces_i2_then_i3_then_completes(demo: RunningSandbox, kubectl: Kubectl) -> None:
    job = _migration_job(demo)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    wait_for(lambda: pods(demo, MIGRATION), what="the first migration pod")

    # I1 fixed: the key that exists -> the pod starts and Django refuses the empty SECRET_KEY (I2)
    for var in env:
        if var.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "db-password":
            var["valueFrom"]["secretKeyRef"]["key"] = "database-password"
    uid = _recreate_job(demo, job)
    assert _failed_run_log(demo, kubectl, uid)[-1] == SECRET_KEY_EMPTY

    # I10: after backoffLimit failed pods the Job gives up, in the Job controller's words
    def failed() -> dict[str, Any] | None:
        j = demo.get("batch/v1", "Job", NS, MIGRATION) or {}
        if j.get("metadata", {}).get("uid") != uid:
            return None
        conds = j.get("status", {}).get("conditions") or ()
        return next((c for c in conds if c["type"] == "Failed" and c["status"] == "True"), None)

    cond = wait_for(failed, what="the migration Job to fail")
    assert (cond["reason"], cond["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")

    # I2 fixed: the Deployment's DJANGO_SECRET_KEY -> the settings module does not exist (I3)
    env.append(
        {
            "name": "DJANGO_SECRET_KEY",
            "valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "django-secret-key"}},
        }
    )
    uid = _recreate_job(demo, job)
    assert _failed_run_log(demo, kubectl, uid)[-1] == NO_MODULE

    # I3 fixed: the settings package the repository has -> migrations run and the Job completes
    for var in env:
        if var["name"] == "DJANGO_SETTINGS_MODULE":
            var["value"] = "license_platform.settings.production"
    uid = _recreate_job(demo, job)

    def complete() -> bool:
        j = demo.get("batch/v1", "Job", NS, MIGRATION)
        conds = (j or {}).get("status", {}).get("conditions") or ()
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conds)

    wait_for(complete, what="the migration Job to complete")
    done = [p for p in demo.list("v1", "Pod", NS) if _owned_by(p, uid) and p["status"].get("phase") == "Succeeded"]
    assert done
    term = container_status(done[0], "migrate")["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    log = kubectl("logs", "-n", NS, done[0]["metadata"]["name"]).stdout.splitlines()
    assert log[:3] == [
        "Operations to perform:",
        "  Apply all migrations: admin, auth, contenttypes, licenses, sessions, tenants, users",
        "Running migrations:",
    ]


def test_healthy_workloads_are_ready_and_the_nightly_report_succeeds(demo: RunningSandbox) -> None:
    def ready(app: str, ns: str, want: int) -> bool:
        ps = pods(demo, app, ns)
        return len(ps) == want and all(
            p["status"].get("phase") == "Running" and (condition(p, "Ready") or {}).get("status") == "True" for p in ps
        )

    wait_for(lambda: ready("coditect-docs", NS, 1), what="coditect-docs ready")
    wait_for(lambda: ready("kube-dns", "kube-system", 2), what="coredns ready")
    for p in pods(demo, "coditect-docs", NS) + pods(demo, "kube-dns", "kube-system"):
        s = container_status(p)
        assert s["restartCount"] == 0 and s["started"] is True and s["ready"] is True
        assert s["imageID"].split("@")[1].startswith("sha256:")
        assert p["status"]["podIP"] and p["status"]["hostIP"]
        assert [c["type"] for c in p["status"]["conditions"]] == [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]

    def report_succeeded() -> bool:
        for j in demo.list("batch/v1", "Job", NS):
            owners = [r.get("kind") for r in j["metadata"].get("ownerReferences") or ()]
            conds = j.get("status", {}).get("conditions") or ()
            if "CronJob" in owners and any(c["type"] == "Complete" and c["status"] == "True" for c in conds):
                return True
        return False

    wait_for(report_succeeded, what="a nightly report Job to complete")
    succeeded = [p for p in pods(demo, "coditect-nightly-report", NS) if p["status"].get("phase") == "Succeeded"]
    assert succeeded
    assert {c["type"]: (c["status"], c.get("reason")) for c in succeeded[0]["status"]["conditions"]} == {
        "PodReadyToStartContainers": ("False", None),
        "Initialized": ("True", "PodCompleted"),
        "Ready": ("False", "PodCompleted"),
        "ContainersReady": ("False", "PodCompleted"),
        "PodScheduled": ("True", None),
    }


def test_describe_pod_lists_the_real_event_texts(demo: RunningSandbox, kubectl: Kubectl) -> None:
    frontend = wait_for(
        lambda: next(
            (p for p in pods(demo, "coditect-frontend") if waiting(p).get("reason") == "ImagePullBackOff"), None
        ),
        what="a frontend pod backing off",
    )
    out = kubectl("describe", "pod", "-n", NS, frontend["metadata"]["name"]).stdout
    assert "Events:" in out
    events = out.split("Events:", 1)[1]
    node = frontend["spec"]["nodeName"]
    for reason, source, message in [
        ("Scheduled", "default-scheduler", f"Successfully assigned {NS}/{frontend['metadata']['name']} to {node}"),
        ("Pulling", "kubelet", f'Pulling image "{FRONTEND_IMAGE}"'),
        ("Failed", "kubelet", f'Failed to pull image "{FRONTEND_IMAGE}": {NOT_FOUND}'),
        ("Failed", "kubelet", "Error: ErrImagePull"),
        ("BackOff", "kubelet", f'Back-off pulling image "{FRONTEND_IMAGE}"'),
        ("Failed", "kubelet", "Error: ImagePullBackOff"),
    ]:
        pattern = rf"^\s+\S+\s+{reason}\s+.+?\s{re.escape(source)}\s+{re.escape(message)}$"
        assert re.search(pattern, events, re.MULTILINE), f"{reason} {message!r} not in:\n{events}"
    assert re.search(r"^\s+State:\s+Waiting\n\s+Reason:\s+(ImagePullBackOff|ErrImagePull)$", out, re.MULTILINE), out
    worker = wait_for(lambda: next(iter(pods(demo, "coditect-worker")), None), what="a worker pod")
    wait_for(lambda: any(e["reason"] == "FailedScheduling" for e in events_of(demo, worker)), what="FailedScheduling")
    out = kubectl("describe", "pod", "-n", NS, worker["metadata"]["name"]).stdout
    assert re.search(
        rf"Warning\s+FailedScheduling\s+.+default-scheduler\s+{re.escape(NODE_SELECTOR_MISMATCH)}$", out, re.MULTILINE
    )
