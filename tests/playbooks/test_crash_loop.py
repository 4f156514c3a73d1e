"""crash-loop: containers that keep dying, classified from their last log lines (I9 on the demo)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from diagnostics import quantity
from diagnostics.findings import LivePlan
from diagnostics.logs import Logs
from diagnostics.repo import Repository
from playbooks import crash_causes
from playbooks.crash_loop import PLAYBOOK, proposed_limit
from tests.conftest import wait_for
from tests.playbooks.demo import NS as DEMO_NS
from tests.playbooks.demo import Demo
from tests.playbooks.logfakes import (
    REDIS_LINE,
    FakeLogs,
    container,
    crash_status,
    deployment,
    logs,
    meta,
    pod,
    replicaset,
    run,
)
from tests.sandbox.kube import Kubectl

# --- the classifier ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (REDIS_LINE, "dependency:redis:6379"),
        (
            "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.",
            "dependency:redis:6379",
        ),
        (
            'psycopg2.OperationalError: could not translate host name "db" to address: Name or service not known',
            "dependency:db",
        ),
        (
            'psycopg.OperationalError: connection to server at "10.42.0.3", port 5432 failed: Connection refused',
            "dependency:10.42.0.3:5432",
        ),
        (
            "requests.exceptions.ConnectionError: HTTPConnectionPool(host='billing', port=8080): Max retries exceeded",
            "dependency:billing:8080",
        ),
        ("dial tcp: lookup nats on 10.96.0.10:53: no such host", "dependency:nats"),
        ("Error: connect ECONNREFUSED 10.0.0.7:5672", "dependency:10.0.0.7:5672"),
        (
            "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
            "missing-setting:SECRET_KEY",
        ),
        (
            "django.core.exceptions.ImproperlyConfigured: Set the DATABASE_URL environment variable",
            "missing-setting:DATABASE_URL",
        ),
        ("error: required environment variable STRIPE_API_KEY is not set", "missing-setting:STRIPE_API_KEY"),
        ("ModuleNotFoundError: No module named 'coditect_license'", "module-not-found:coditect_license"),
        ("Error: Cannot find module 'express'", "module-not-found:express"),
        ("PermissionError: [Errno 13] Permission denied: '/app/media/uploads'", "permission-denied"),
        ('nginx: [emerg] mkdir() "/var/cache/nginx/client_temp" failed (13: Permission denied)', "permission-denied"),
    ],
)
def test_the_last_telling_log_line_names_the_cause(line: str, key: str):
    cause = crash_causes.from_logs(["Starting…", line])
    assert cause is not None and cause.key == key and cause.line == line


def test_a_keyerror_on_os_environ_is_a_missing_setting_and_the_final_exception_wins():
    environ = [
        '  File "/app/settings.py", line 14, in <module>',
        '    key = os.environ["API_KEY"]',
        "KeyError: 'API_KEY'",
    ]
    assert crash_causes.from_logs(environ).key == "missing-setting:API_KEY"  # type: ignore[union-attr]
    # a chained traceback: an ordinary KeyError first, the exception that ended the program last
    chained = [
        "KeyError: 'license_worker'",
        "During handling of the above exception, another exception occurred:",
        "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
    ]
    assert crash_causes.from_logs(chained).key == "missing-setting:SECRET_KEY"  # type: ignore[union-attr]
    assert crash_causes.from_logs(["KeyError: 'license_worker'"]) is None


def test_logs_that_name_nothing_known_give_no_cause():
    assert crash_causes.from_logs([]) is None
    assert crash_causes.from_logs(["", "INFO booting", "Segmentation fault (core dumped)"]) is None


@pytest.mark.parametrize(
    ("limit", "proposed"),
    [("512Mi", "1Gi"), ("300Mi", "640Mi"), ("768Mi", "1536Mi"), ("3Gi", "6Gi"), ("100M", "192Mi"), ("5Gi", "10Gi")],
)
def test_the_oom_fix_doubles_the_limit_to_a_quantity_people_write(limit: str, proposed: str):
    assert quantity.memory(proposed_limit(quantity.parse(limit))) == proposed
    assert proposed_limit(quantity.parse(limit)) >= 2 * quantity.parse(limit) - Decimal(1)


# --- on a snapshot -------------------------------------------------------------------------------


def crashing_api(*statuses_per_pod: list[dict[str, Any]], containers: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    dep = deployment(containers=containers)
    rs = replicaset(dep)
    pods = [pod(f"api-7d9f-{i}", rs, st) for i, st in enumerate(statuses_per_pod)]
    return dep, [dep, rs, *pods]


def test_pods_crashing_on_an_unreachable_redis_are_one_finding_on_their_deployment():
    _, objects = crashing_api([crash_status()], [crash_status()], [crash_status()], [crash_status()])
    fake = FakeLogs({(f"api-7d9f-{i}", True): logs("Traceback (most recent call last):", REDIS_LINE) for i in range(4)})
    [f] = run(PLAYBOOK, objects, fake)
    assert (f.object.kind, f.object.name, f.severity) == ("Deployment", "api", "error")
    assert f.cause == "dependency:redis:6379" and f.title == "Container api crash-loops: cannot reach redis:6379"
    assert f'Its last log says: "{REDIS_LINE}"' in f.explanation and "4 pod(s)" in f.explanation
    assert any(e.kind == "log" and REDIS_LINE in e.text and "(previous instance)" in e.source for e in f.evidence)
    assert any("Last terminated: Error, exit code 1" in e.text for e in f.evidence)
    assert not f.fixes
    assert len(fake.calls) == 3 and all(previous for _, _, previous in fake.calls)  # a few pods tell the story


def test_an_oomkilled_container_gets_its_memory_limit_doubled_marked_high_risk(tmp_path: Path):
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "api.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  replicas: 2\n"
        "  template:\n    spec:\n      containers:\n        - name: api\n          image: registry.example/shop/api:1.2.0\n"
        "          resources:\n            requests:\n              memory: 256Mi  # measured in May\n"
        "            limits:\n              memory: 512Mi\n"
    )
    _, objects = crashing_api([crash_status(exit_code=137, reason="OOMKilled")])
    [f] = run(
        PLAYBOOK, objects, FakeLogs({("api-7d9f-0", True): logs("INFO loading the price index")}), Repository(tmp_path)
    )
    assert f.cause == "oom:api" and "OOMKilled" in f.title
    assert "killed at its limit of 512Mi; the fix raises it to 1Gi" in f.explanation
    live, file = f.fixes
    assert live.risk == file.risk == "high" and "Risky" in live.notes
    assert live.title == "Raise the memory limit of container api from 512Mi to 1Gi"
    assert isinstance(live.plan, LivePlan) and live.plan.mode == "replace"
    assert live.plan.after["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "1Gi"
    assert [line for line in file.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-              memory: 512Mi",
        "+              memory: 1Gi",
    ]
    assert "# measured in May" in file.plan.after  # type: ignore[union-attr]


def test_a_container_running_again_after_an_oom_kill_is_a_warning_with_the_same_fix():
    status = {
        "name": "api",
        "ready": True,
        "restartCount": 2,
        "state": {"running": {"startedAt": "2025-05-21T09:06:00Z"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    }
    _, objects = crashing_api([status])
    [f] = run(PLAYBOOK, objects, FakeLogs())
    assert f.severity == "warning" and f.cause == "oom:api" and f.fixes[0].risk == "high"


def test_an_oom_kill_without_a_limit_says_so_and_proposes_nothing():
    _, objects = crashing_api(
        [crash_status(exit_code=137, reason="OOMKilled")], containers=[container(memory_limit=None)]
    )
    [f] = run(PLAYBOOK, objects, FakeLogs())
    assert not f.fixes and "has no memory limit" in f.explanation


def test_two_containers_failing_for_different_reasons_are_two_findings():
    two = [container("api"), container("migrator")]
    _, objects = crashing_api([crash_status("api"), crash_status("migrator")], containers=two)
    fake = FakeLogs(
        {
            ("api-7d9f-0", "api", True): logs("ModuleNotFoundError: No module named 'shop.settings_prod'"),
            ("api-7d9f-0", "migrator", True): logs("Segmentation fault"),
        }
    )
    found = {(f.cause, f.title) for f in run(PLAYBOOK, objects, fake)}
    assert found == {
        ("module-not-found:shop.settings_prod", "Container api crash-loops: module shop.settings_prod not found"),
        ("exit:1", "Container migrator crash-loops: exits with code 1"),
    }


# --- near misses ---------------------------------------------------------------------------------


def test_healthy_restarts_finished_jobs_and_recovered_pods_are_not_crash_loops():
    recovered = {
        "name": "api",
        "ready": True,
        "restartCount": 3,
        "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }
    completed = {"name": "api", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    _, objects = crashing_api([recovered], [completed])
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("import", "uid-import"), "spec": {}}
    failed_job_pod = pod(
        "import-x1", job, [{"name": "import", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]
    )
    failed_job_pod["status"]["phase"] = "Failed"
    fake = FakeLogs()
    assert run(PLAYBOOK, [*objects, job, failed_job_pod], fake) == []
    assert fake.calls == []  # nothing failing, nothing read


def test_a_looping_container_caught_running_between_two_crashes_still_counts():
    between = {
        "name": "api",
        "ready": False,
        "restartCount": 4,
        "state": {"running": {"startedAt": "2025-05-21T09:06:00Z"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }
    _, objects = crashing_api([between])
    [f] = run(PLAYBOOK, objects, FakeLogs({("api-7d9f-0", True): logs(REDIS_LINE)}))
    assert (f.severity, f.cause) == ("error", "dependency:redis:6379")
    # once it is ready it has recovered, however often it restarted before
    between["ready"] = True
    assert run(PLAYBOOK, objects, FakeLogs()) == []


def test_a_crash_looping_pod_of_a_running_job_counts_but_not_once_the_job_has_failed():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("import", "uid-import"), "spec": {}}
    looping = pod("import-x1", job, [crash_status("import")], restartPolicy="OnFailure")
    [f] = run(
        PLAYBOOK,
        [job, looping],
        FakeLogs({("import-x1", True): logs("PermissionError: [Errno 13] Permission denied: '/data'")}),
    )
    assert (f.object.kind, f.cause) == ("Job", "permission-denied")
    job["status"] = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
    assert run(PLAYBOOK, [job, looping], FakeLogs()) == []


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "said"),
    [
        (Logs(()), "the log is empty: the program printed nothing before it exited"),
        (Logs((), "forbidden"), "logs not read: forbidden"),
        (Logs(("\x1b[31m", "   ", "^^^^")), "the log is empty"),
    ],
)
def test_logs_that_are_empty_or_unreadable_fall_back_to_the_exit_code(read: Logs, said: str):
    _, objects = crashing_api([crash_status(exit_code=3)])
    [f] = run(PLAYBOOK, objects, FakeLogs({("api-7d9f-0", True): read}))
    assert f.cause == "exit:3" and f.title == "Container api crash-loops: exits with code 3"
    if said == "the log is empty":  # control noise only: quoted as it is, nothing classified
        assert any(e.kind == "log" for e in f.evidence)
    else:
        assert any(e.kind == "log" and e.text == said for e in f.evidence)


def test_without_a_cluster_to_read_logs_from_the_state_alone_is_reported():
    _, objects = crashing_api([crash_status(exit_code=137, reason="Error")])
    [f] = run(PLAYBOOK, objects, None)
    assert f.cause == "exit:137" and "killed with SIGKILL" in f.explanation
    assert any(e.text == "logs not read: no cluster to ask (snapshot only)" for e in f.evidence)


def test_pods_without_status_or_owner_and_odd_quantities_do_not_break_it():
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": meta("loner", "uid-loner"), "spec": {}}
    odd = deployment(containers=[container(memory_limit="lots")])
    rs = replicaset(odd)
    oom = pod("api-7d9f-0", rs, [crash_status(exit_code=137, reason="OOMKilled")])
    [f] = run(PLAYBOOK, [bare, odd, rs, oom], FakeLogs())
    assert not f.fixes and "'lots' is not a quantity" in f.explanation


REDIS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers: [{name: redis, image: "redis:7.4", ports: [{containerPort: 6379}]}]
---
apiVersion: v1
kind: Service
metadata: {name: redis}
spec:
  selector: {app: redis}
  ports: [{port: 6379, targetPort: 6379}]
"""

# --- the demo: I9 --------------------------------------------------------------------------------


def test_the_backend_crash_loop_is_read_as_redis_not_reachable_and_clears_once_redis_runs(demo: Demo, tmp_path: Path):
    [f] = wait_for(
        lambda: demo.findings("crash-loop", "Deployment", "coditect-backend"), what="the backend pods crash-looping"
    )
    assert f["severity"] == "error" and f["object"]["namespace"] == DEMO_NS
    assert f["title"] == "Container backend crash-loops: cannot reach redis:6379"
    assert any(e["kind"] == "log" and REDIS_LINE in e["text"] for e in f["evidence"])
    assert any(e["text"].startswith("Last terminated: Error, exit code 1") for e in f["evidence"])
    report = demo.report("--playbook", "all")
    explaining = [g for g in report["findings"] if g["playbook"] == "dependency-missing"]
    [linked] = [g for g in report["findings"] if g["id"] == f["id"]]
    if explaining:  # the dependency-missing playbook is there: the crash names its finding
        assert set(linked["related"]) & {g["id"] for g in explaining}
        assert "Explained by: dependency-missing finding" in linked["explanation"]
    healthy = {"coditect-docs", "coredns", "coditect-nightly-report"}
    crashes = [g for g in report["findings"] if g["playbook"] == "crash-loop"]
    assert [g["object"]["name"] for g in crashes] == ["coditect-backend"]
    assert not healthy & {g["object"]["name"] for g in crashes}

    # deploying what it waits for is the way out: the finding goes when the pods stay up
    kubectl = Kubectl(demo.rs, tmp_path / "kcache")
    kubectl("-n", DEMO_NS, "apply", "-f", "-", input=REDIS)
    wait_for(lambda: demo.ready("coditect-backend"), timeout=60, what="the backend pods up once redis answers")
    assert not demo.findings("crash-loop", "Deployment", "coditect-backend")


def test_crash_loop_reports_are_valid_json_with_no_secret_values(demo: Demo):
    wait_for(lambda: demo.findings("crash-loop"), what="the backend pods crash-looping")
    code, out, err = demo.pitstop("--playbook", "crash-loop", "-o", "json")
    assert code == 1, err
    assert "PITSTOP-SEEDED-SECRET" not in out
    assert json.loads(out)["playbooks"] == [
        {
            "id": "crash-loop",
            "status": "findings",
            "duration_ms": json.loads(out)["playbooks"][0]["duration_ms"],
            "error": None,
        }
    ]
