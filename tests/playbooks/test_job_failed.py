"""job-failed: Jobs that gave up and CronJobs whose last run did, with the finding that explains them (I10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diagnostics.logs import Logs
from playbooks.job_failed import PLAYBOOK
from tests.conftest import wait_for
from tests.playbooks.demo import NS as DEMO_NS
from tests.playbooks.demo import Demo
from tests.playbooks.logfakes import FakeLogs, logs, meta, run
from tests.sandbox.kube import Kubectl

SECRET_KEY_LINE = "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."
BACKOFF = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
           "message": "Job has reached the specified backoff limit"}  # fmt: skip
DEADLINE = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline"}  # fmt: skip
COMPLETE = {"type": "Complete", "status": "True"}


def job(
    name: str, *conditions: dict[str, Any], owner: dict[str, Any] | None = None, started: str = ""
) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(name, f"uid-{name}", owner),
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "migrate",
                            "image": "registry.example/shop/api:1.2.0",
                            "command": ["python", "manage.py", "migrate", "--noinput"],
                        }
                    ],
                }
            },
        },
        "status": {
            "conditions": list(conditions),
            "failed": 3 if BACKOFF in conditions else 0,
            "startTime": started or "2025-05-21T09:00:00Z",
        },
    }


def failed_pod(
    name: str, owner: dict[str, Any], created: str = "2025-05-21T09:00:00Z", **status: Any
) -> dict[str, Any]:
    cs = {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}, **status}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, f"uid-{name}", owner, creationTimestamp=created),
        "spec": {"restartPolicy": "Never", "containers": [{"name": "migrate"}]},
        "status": {"phase": "Failed", "containerStatuses": [cs]},
    }


def cronjob(name: str = "report") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(name, f"uid-{name}"),
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "report", "command": ["python", "manage.py", "send_report"]}]}}}}},
    }  # fmt: skip


# --- on a snapshot -------------------------------------------------------------------------------


def test_a_job_past_its_backoff_limit_is_reported_with_the_reason_and_its_last_log_lines():
    j = job("migrate", BACKOFF)
    pods = [failed_pod(f"migrate-{i}", j, created=f"2025-05-21T09:0{i}:00Z") for i in range(3)]
    fake = FakeLogs(
        {(p["metadata"]["name"], False): logs("Traceback (most recent call last):", SECRET_KEY_LINE) for p in pods}
    )
    [f] = run(PLAYBOOK, [j, *pods], fake)
    assert (f.object.kind, f.object.name, f.severity) == ("Job", "migrate", "error")
    assert f.title == "Job migrate failed (BackoffLimitExceeded): setting SECRET_KEY is missing"
    assert f.cause == "BackoffLimitExceeded;missing-setting:SECRET_KEY;migrate"
    texts = [e.text for e in f.evidence]
    assert "Failed=True (BackoffLimitExceeded): Job has reached the specified backoff limit" in texts
    assert "pods: 3 failed, 0 succeeded; backoffLimit 2" in texts
    assert sum(SECRET_KEY_LINE in t for t in texts) == 1  # the retries print alike: quoted once
    assert {pod for pod, _, _ in fake.calls} == {"migrate-1", "migrate-2"}  # the newest failed pods
    assert "runs the database migrations" in f.explanation and "delete it and create it anew" in f.explanation


def test_an_onfailure_job_reads_the_previous_instance_too():
    j = job("import", BACKOFF)
    j["spec"]["template"]["spec"]["containers"][0]["command"] = ["python", "import.py"]
    p = failed_pod(
        "import-0",
        j,
        restartCount=2,
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"exitCode": 1, "reason": "Error"}},
    )
    fake = FakeLogs({("import-0", True): logs("ModuleNotFoundError: No module named 'shop'")})
    [f] = run(PLAYBOOK, [j, p], fake)
    assert fake.calls == [("import-0", "migrate", True)]
    assert f.cause == "BackoffLimitExceeded;module-not-found:shop"  # not a migration Job
    assert any(e.source.endswith("(previous instance)") for e in f.evidence if e.kind == "log")


def test_a_job_stopped_by_its_deadline_before_it_started_says_its_pods_are_gone():
    j = job("migrate", DEADLINE)
    j["spec"]["activeDeadlineSeconds"] = 300
    [f] = run(PLAYBOOK, [j], FakeLogs())
    assert f.cause == "DeadlineExceeded;migrate"
    assert "pods: 0 failed, 0 succeeded; backoffLimit 2, activeDeadlineSeconds 300" in [e.text for e in f.evidence]
    assert any("its pods are gone" in e.text for e in f.evidence)
    assert "ran longer than its activeDeadlineSeconds" in f.explanation


def test_a_cronjob_whose_last_runs_failed_is_reported_on_the_cronjob():
    cj = cronjob()
    ok = job("report-100", COMPLETE, owner=cj, started="2025-05-19T02:00:00Z")
    bad1 = job("report-200", BACKOFF, owner=cj, started="2025-05-20T02:00:00Z")
    bad2 = job("report-300", BACKOFF, owner=cj, started="2025-05-21T02:00:00Z")
    p = failed_pod("report-300-x", bad2)
    [f] = run(PLAYBOOK, [cj, ok, bad1, bad2, p], FakeLogs({("report-300-x", False): logs("KeyError: 'API_TOKEN'")}))
    assert (f.object.kind, f.object.name) == ("CronJob", "report")
    assert (
        f.title
        == "Last run of CronJob report failed (BackoffLimitExceeded, Job report-300): setting API_TOKEN is missing"
    )
    assert "2 run(s) failed since the last success: report-300, report-200" in [e.text for e in f.evidence]
    assert "create job --from=cronjob/report" in f.explanation


# --- near misses ---------------------------------------------------------------------------------


def test_running_complete_and_recovered_jobs_are_not_failures():
    cj = cronjob()
    old_failure = job("report-100", BACKOFF, owner=cj, started="2025-05-19T02:00:00Z")
    success = job("report-200", COMPLETE, owner=cj, started="2025-05-20T02:00:00Z")
    retrying = job("migrate")  # a pod failed, the Job still retries
    retrying["status"]["failed"] = 1
    objects = [cj, old_failure, success, retrying, failed_pod("migrate-0", retrying), job("done", COMPLETE)]
    not_yet = job("other", {"type": "Failed", "status": "False", "reason": "BackoffLimitExceeded"})
    fake = FakeLogs()
    assert run(PLAYBOOK, [*objects, not_yet], fake) == []
    assert fake.calls == []


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "said"),
    [
        (Logs(()), "the log is empty: the program printed nothing before it exited"),
        (Logs((), "forbidden"), "logs not read: forbidden"),
        (None, "logs not read: no cluster to ask (snapshot only)"),
    ],
)
def test_empty_or_unreadable_logs_are_said_and_the_exit_code_stands_in(read: Logs | None, said: str):
    j = job("migrate", BACKOFF)
    p = failed_pod("migrate-0", j, state={"terminated": {"exitCode": 2, "reason": "Error"}})
    fake = None if read is None else FakeLogs({("migrate-0", False): read})
    [f] = run(PLAYBOOK, [j, p], fake)
    assert f.cause == "BackoffLimitExceeded;exit:2;migrate" and f.title == "Job migrate failed (BackoffLimitExceeded)"
    assert said in [e.text for e in f.evidence if e.kind == "log"]


def test_a_job_with_no_status_or_spec_does_not_break_it():
    bare = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("bare", "uid-bare")}
    odd = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("odd", "uid-odd"),
        "status": {"conditions": [DEADLINE]},
    }
    [f] = run(PLAYBOOK, [bare, odd], FakeLogs())
    assert f.object.name == "odd" and f.cause == "DeadlineExceeded"


# --- the demo: I10 -------------------------------------------------------------------------------


def migration_failed(demo: Demo, reason: str) -> bool:
    job = demo.rs.get("batch/v1", "Job", DEMO_NS, "coditect-backend-migration") or {}
    return any(
        c.get("type") == "Failed" and c.get("reason") == reason for c in job.get("status", {}).get("conditions") or ()
    )


def test_the_migration_job_failing_after_the_secret_key_fix_is_found_with_its_log_and_linked(demo: Demo):
    assert not demo.findings("job-failed")  # up front it is stuck in CreateContainerConfigError, not failed
    _code, out, err = demo.pitstop("--playbook", "secret-missing", "--apply", "--yes", "-o", "json")
    assert [(a["result"], a["verification"]) for a in json.loads(out)["applied"]] == [("applied", "verified")], err
    wait_for(lambda: migration_failed(demo, "BackoffLimitExceeded"), what="the migration Job failing on I2")

    report = demo.report("--playbook", "all")
    [f] = [g for g in report["findings"] if g["playbook"] == "job-failed"]
    assert (f["object"]["kind"], f["object"]["name"]) == ("Job", "coditect-backend-migration")
    assert f["title"] == "Job coditect-backend-migration failed (BackoffLimitExceeded): setting SECRET_KEY is missing"
    assert any(e["kind"] == "log" and SECRET_KEY_LINE in e["text"] for e in f["evidence"])
    assert any(e["text"].startswith("Failed=True (BackoffLimitExceeded)") for e in f["evidence"])
    # I7 waits behind it in the repository; env-drift (I2), when present, explains it
    [conflict] = [g for g in report["findings"] if g["playbook"] == "migration-conflict"]
    assert conflict["id"] in f["related"] and "Also in the way: migration-conflict" in f["explanation"]
    same_job = [
        g["id"]
        for g in report["findings"]
        if g["object"] == f["object"] and g["playbook"] not in ("job-failed", "readiness")
    ]
    assert set(same_job) <= set(f["related"])
    healthy = {"coditect-docs", "coredns", "coditect-nightly-report"}
    assert not [g for g in report["findings"] if g["playbook"] == "job-failed" and g["object"]["name"] in healthy]


def test_the_migration_job_out_of_time_is_explained_by_the_wrong_secret_key(demo: Demo, tmp_path: Path):
    [secret] = demo.findings("secret-missing", "Job", "coditect-backend-migration")
    # the deploy gives migrations a deadline; the pod never got past CreateContainerConfigError
    kubectl = Kubectl(demo.rs, tmp_path / "kcache")
    kubectl("-n", DEMO_NS, "patch", "job", "coditect-backend-migration", "--type=merge",
            "-p", '{"spec": {"activeDeadlineSeconds": 30}}')  # fmt: skip
    wait_for(lambda: migration_failed(demo, "DeadlineExceeded"), what="the migration Job past its deadline")
    found = demo.report("--playbook", "job-failed,secret-missing")["findings"]  # links join one run's findings
    [f] = [g for g in found if g["playbook"] == "job-failed"]
    assert f["title"] == "Job coditect-backend-migration failed (DeadlineExceeded)"
    assert f["related"][0] == secret["id"]
    assert f"Explained by: secret-missing finding {secret['id']}, Key db-password not found" in f["explanation"]
    assert any(
        e["text"] == "Warning DeadlineExceeded: Job was active longer than specified deadline" for e in f["evidence"]
    )
