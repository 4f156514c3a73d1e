"""`pitstop --generate-migration-job` on the demo: a Job derived from the live Deployment that the cluster runs to completion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import wait_for
from tests.playbooks.demo import NS, Demo
from tests.sandbox.kube import Kubectl

JOB = "coditect-backend-migration"
MANIFEST = "k8s/staging/migration-job.yaml"


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("pitstop: "), err
    return lines[0]


def condition(job: dict[str, Any] | None, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in ((job or {}).get("status") or {}).get("conditions") or ()
    )


def journal_id(err: str) -> str:
    marker = "(journal id "
    return err[err.index(marker) + len(marker) :].split(";", 1)[0]


def test_the_job_generated_from_the_demo_backend_runs_to_completion_and_undo_restores_the_file(
    demo: Demo, tmp_path: Path
):
    original = (demo.repo / MANIFEST).read_text()
    code, out, err = demo.pitstop("--generate-migration-job", "coditect-backend", "-n", NS)
    assert code == 0, err
    # the existing, broken migration Job of the Deployment is brought in line with it (I1, I2, I3)
    assert out.startswith(f"--- a/{MANIFEST}\n+++ b/{MANIFEST}\n")
    lines = changed_lines(out)
    assert "+            - name: DJANGO_SECRET_KEY" in lines
    assert "+              value: license_platform.settings.production" in lines
    assert "+                  key: database-password" in lines
    written = (demo.repo / MANIFEST).read_text()
    assert written != original and written.startswith("# Applies Django migrations for a release.")
    assert f"kubectl delete job {JOB} -n {NS}" in err  # a Job's template cannot change in place

    # every env entry, reference and setting of the live Deployment is in the Job
    job = yaml.safe_load(written)
    dep = demo.rs.get("apps/v1", "Deployment", NS, "coditect-backend")
    assert dep is not None
    app = dep["spec"]["template"]["spec"]["containers"][0]
    [c] = job["spec"]["template"]["spec"]["containers"]
    assert c["env"] == app["env"] and c["envFrom"] == app["envFrom"] and c["image"] == app["image"]
    assert (
        job["spec"]["template"]["spec"]["serviceAccountName"] == dep["spec"]["template"]["spec"]["serviceAccountName"]
    )

    # the sandbox runs it to completion: migrate needs the secret key and the settings module, not Redis
    kubectl = Kubectl(demo.rs, tmp_path / "kubectl-cache")
    kubectl("delete", "job", JOB, "-n", NS)
    wait_for(lambda: demo.rs.get("batch/v1", "Job", NS, JOB) is None, what="the old migration Job gone")
    kubectl("apply", "-f", str(demo.repo / MANIFEST))
    done = wait_for(
        lambda: (lambda j: j if condition(j, "Complete") or condition(j, "Failed") else None)(
            demo.rs.get("batch/v1", "Job", NS, JOB)
        ),
        timeout=60,
        what="the generated migration Job to finish",
    )
    assert condition(done, "Complete"), done.get("status")
    logs = kubectl("logs", f"job/{JOB}", "-n", NS).stdout
    assert "Running migrations:" in logs

    # the write went through the journal: undo puts the file back as it was
    code, out, err = demo.pitstop("undo", journal_id(err))
    assert code == 0, err
    assert (demo.repo / MANIFEST).read_text() == original


def test_a_deployment_reading_a_missing_secret_key_gets_that_key_reported_and_no_job(demo: Demo, tmp_path: Path):
    kubectl = Kubectl(demo.rs, tmp_path / "kubectl-cache")
    patch = [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/env/4/valueFrom/secretKeyRef/key",
            "value": "db-password",
        }
    ]
    dep = demo.rs.get("apps/v1", "Deployment", NS, "coditect-backend")
    assert dep is not None and dep["spec"]["template"]["spec"]["containers"][0]["env"][4]["name"] == "DB_PASSWORD"
    kubectl("patch", "deployment", "coditect-backend", "-n", NS, "--type", "json", "-p", json.dumps(patch))
    before = (demo.repo / MANIFEST).read_text()

    code, out, err = demo.pitstop("--generate-migration-job", "coditect-backend", "-n", NS)
    assert code == 1, err
    assert out == ""  # no diff: nothing that would fail is proposed
    problem = err.splitlines()[0]
    assert problem.startswith(
        f"pitstop: couldn't find key db-password in Secret {NS}/backend-secrets, which env DB_PASSWORD reads"
    )
    assert "database-password" in problem and "PITSTOP-SEEDED-SECRET" not in err
    assert (demo.repo / MANIFEST).read_text() == before


def test_dry_run_writes_nothing_a_new_job_gets_its_own_file_and_bad_input_is_one_sentence(demo: Demo):
    before = (demo.repo / MANIFEST).read_text()
    code, out, err = demo.pitstop("--generate-migration-job", "coditect-backend", "-n", NS, "--dry-run")
    assert code == 0 and "+            - name: DJANGO_SECRET_KEY" in out, err
    assert "dry run" in err and (demo.repo / MANIFEST).read_text() == before

    # a Deployment without a migration Job: a new file next to its manifest, with the command asked for
    code, out, err = demo.pitstop(
        "--generate-migration-job", "coditect-docs", "-n", NS, "--command", "python manage.py migrate --plan"
    )
    assert code == 0, err
    path = demo.repo / "k8s/staging/coditect-docs-migrate.yaml"
    assert out.startswith("--- /dev/null\n+++ b/k8s/staging/coditect-docs-migrate.yaml\n")
    job = yaml.safe_load(path.read_text())
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "manage.py", "migrate", "--plan"]
    code, _, err2 = demo.pitstop("undo", journal_id(err))
    assert code == 0 and not path.exists(), err2

    code, out, err = demo.pitstop("--generate-migration-job", "coditect-api", "-n", NS)
    assert code == 2 and out == ""
    assert one_sentence(err) == (
        f"pitstop: Deployment coditect-api not found in namespace {NS}; "
        f"list the Deployments there with kubectl get deploy -n {NS}"
    )
    code, _, err = demo.pitstop("--generate-migration-job", "Coditect_Backend", "-n", NS)
    assert code == 2 and "is not a valid Deployment name" in one_sentence(err)
    code, _, err = demo.pitstop("--generate-migration-job", "coditect-backend", "-n", NS, "--command", "python 'x")
    assert code == 2 and "check its quotes" in one_sentence(err)
    code, _, err = demo.pitstop("--generate-migration-job", "coditect-backend", "-n", NS, "--command", "  ")
    assert code == 2 and "--command is empty" in one_sentence(err)
    code, _, err = demo.pitstop("--command", "python manage.py migrate")
    assert code == 2 and "add --generate-migration-job DEPLOYMENT" in one_sentence(err)
    assert (demo.repo / MANIFEST).read_text() == before
