"""The four core incidents of the demo, found, fixed headless, verified and undone (INCIDENTS.md I1, I4, I5, I7)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_for
from tests.playbooks.demo import NS, Demo

NODE_SELECTOR_MISMATCH = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_wrong_nodepool_is_found_fixed_verified_and_undone(demo: Demo):
    [f] = demo.findings("pod-pending", "Deployment", "coditect-worker")
    assert f["severity"] == "error" and f["object"]["namespace"] == NS
    assert "cloud.google.com/gke-nodepool=default-pool" in f["title"]
    assert "primary-node-pool (3 of 3 nodes would admit the pods)" in f["explanation"]
    assert any(NODE_SELECTOR_MISMATCH in e["text"] for e in f["evidence"])
    live, file = f["fixes"]
    assert live["target"] == {"type": "live", "kind": "Deployment", "namespace": NS, "name": "coditect-worker"}
    assert changed_lines(live["diff"]) == [
        "-        cloud.google.com/gke-nodepool: default-pool",
        "+        cloud.google.com/gke-nodepool: primary-node-pool",
    ]
    assert file["target"] == {"type": "file", "path": "k8s/staging/worker-deployment.yaml"}
    assert changed_lines(file["diff"]) == [
        "-        cloud.google.com/gke-nodepool: default-pool",
        "+        cloud.google.com/gke-nodepool: primary-node-pool",
    ]

    code, out, err = demo.pitstop("--playbook", "pod-pending", "--apply", "--yes", "-o", "json")
    applied = json.loads(out)["applied"]
    assert [(a["result"], a["verification"]) for a in applied] == [("applied", "verified")], err
    wait_for(lambda: demo.ready("coditect-worker"), what="the worker pods scheduled and ready")
    assert not demo.findings("pod-pending", "Deployment", "coditect-worker")

    code, out, err = demo.pitstop("undo", applied[0]["journal_id"])
    assert code == 0, err
    dep = demo.rs.get("apps/v1", "Deployment", NS, "coditect-worker")
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"cloud.google.com/gke-nodepool": "default-pool"}
    wait_for(lambda: demo.findings("pod-pending", "Deployment", "coditect-worker"), what="the finding to return")


def test_wrong_registry_is_found_on_artifact_registry_and_fixed(demo: Demo):
    [f] = demo.findings("image-pull", "Deployment", "coditect-frontend")
    assert "gcr.io/coditect-cloud-infra/frontend:v1.0.6-staging" in f["title"]
    right = "us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/frontend:v1.0.6-staging"
    assert any(e["kind"] == "registry" and right in e["text"] for e in f["evidence"])
    assert f["fixes"][0]["title"] == f"Use {right}"
    assert f["fixes"][1]["target"]["path"] == "k8s/staging/frontend-deployment.yaml"
    _code, out, err = demo.pitstop("--playbook", "image-pull", "--apply", "--yes", "-o", "json")
    assert [(a["result"], a["verification"]) for a in json.loads(out)["applied"]] == [("applied", "verified")], err
    wait_for(lambda: demo.ready("coditect-frontend"), what="the frontend pods pulling and ready")


def test_wrong_secret_key_in_the_migration_job_is_fixed_by_recreating_it(demo: Demo):
    [f] = demo.findings("secret-missing", "Job", "coditect-backend-migration")
    assert f["title"] == "Key db-password not found in Secret backend-secrets"
    assert any(
        "db-user, database-password, db-name, django-secret-key" in e["text"]
        or "database-password, db-name, db-user, django-secret-key" in e["text"]
        for e in f["evidence"]
    )
    assert any(
        "CreateContainerConfigError: couldn't find key db-password in Secret coditect-staging/backend-secrets"
        in e["text"]
        for e in f["evidence"]
    )
    live = f["fixes"][0]
    assert "delete and recreate the Job" in live["title"] and "immutable" in live["notes"]
    assert [" ".join(line.split()) for line in changed_lines(live["diff"])] == [
        "- key: db-password",
        "+ key: database-password",
    ]
    old_uid = demo.rs.get("batch/v1", "Job", NS, "coditect-backend-migration")["metadata"]["uid"]
    code, out, err = demo.pitstop("--playbook", "secret-missing", "--apply", "--yes", "-o", "json")
    [a] = json.loads(out)["applied"]
    assert (a["result"], a["verification"]) == ("applied", "verified"), err

    def past_config_error() -> bool:
        job = demo.rs.get("batch/v1", "Job", NS, "coditect-backend-migration") or {}
        uid = job.get("metadata", {}).get("uid")
        pods = [
            p
            for p in demo.rs.list("v1", "Pod", NS)
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or ())
        ]
        states = [cs.get("state", {}) for p in pods for cs in p.get("status", {}).get("containerStatuses") or ()]
        return bool(
            uid
            and uid != old_uid
            and states
            and all((s.get("waiting") or {}).get("reason") != "CreateContainerConfigError" for s in states)
            and any("running" in s or "terminated" in s for s in states)
        )

    wait_for(past_config_error, what="the new Job's pod past CreateContainerConfigError")
    code, out, err = demo.pitstop("undo", a["journal_id"])
    assert code == 0, err
    job = demo.rs.get("batch/v1", "Job", NS, "coditect-backend-migration")
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert any((e.get("valueFrom") or {}).get("secretKeyRef", {}).get("key") == "db-password" for e in env)
    wait_for(lambda: demo.findings("secret-missing", "Job", "coditect-backend-migration"), what="I1 back after undo")


def test_migration_conflict_gets_the_merge_migration_django_would_write(demo: Demo):
    [f] = demo.findings("migration-conflict", "DjangoApp", "licenses")
    assert "0002_add_renewal_fields" in f["title"] and "0006_phase1_step6_license_sessions" in f["title"]
    assert any(
        "Conflicting migrations detected; multiple leaf nodes in the migration graph: "
        "(0002_add_renewal_fields, 0006_phase1_step6_license_sessions in licenses)." in e["text"]
        for e in f["evidence"]
    )
    [fix] = f["fixes"]
    path = fix["target"]["path"]
    assert path.startswith("backend/licenses/migrations/0007_merge_") and fix["target"]["type"] == "file"
    code, out, err = demo.pitstop("--playbook", "migration-conflict", "--apply", "--yes", "-o", "json")
    [a] = json.loads(out)["applied"]
    assert (a["result"], a["verification"]) == ("applied", "verified"), err
    assert (demo.repo / path).is_file()
    assert _django_conflicts(demo.repo / "backend") == {}
    code, out, err = demo.pitstop("undo", a["journal_id"])
    assert code == 0 and not (demo.repo / path).exists()
    assert demo.findings("migration-conflict", "DjangoApp", "licenses")


def test_healthy_workloads_produce_no_finding(demo: Demo):
    findings = demo.report("--playbook", "all")["findings"]
    healthy = {("Deployment", "coditect-docs"), ("Deployment", "coredns"), ("CronJob", "coditect-nightly-report")}
    assert not [f for f in findings if (f["object"]["kind"], f["object"]["name"]) in healthy]
    assert {(f["playbook"], f["object"]["name"]) for f in findings} >= {
        ("pod-pending", "coditect-worker"),
        ("image-pull", "coditect-frontend"),
        ("secret-missing", "coditect-backend-migration"),
        ("migration-conflict", "licenses"),
    }


def _django_conflicts(backend: Path) -> dict:
    code = (
        "import django, sys; from django.conf import settings\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "settings.configure(INSTALLED_APPS=['django.contrib.auth','django.contrib.contenttypes','users','tenants','licenses'],"
        " AUTH_USER_MODEL='users.User', DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}})\n"
        "django.setup()\n"
        "from django.db.migrations.loader import MigrationLoader\n"
        "print(repr(MigrationLoader(None, ignore_no_migrations=True).detect_conflicts()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(backend)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
    )
    return ast.literal_eval(out.stdout)
