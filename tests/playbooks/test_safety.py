"""Safety rails of the fix machinery: stale fixes refused, no half-applied change, no secret value anywhere."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import yaml

from diagnostics.apply import Applier
from diagnostics.cache import load_snapshot
from diagnostics.journal import Journal
from diagnostics.kube import KubeClient, KubeError
from diagnostics.kubeconfig import load
from diagnostics.repo import Repository
from playbooks.base import Context
from playbooks.catalog import all_playbooks
from playbooks.headless import kinds_for
from tests.conftest import wait_for
from tests.playbooks.demo import NS, Demo
from tui.cli import main


async def diagnose(demo: Demo, playbook: str, name: str):  # type: ignore[no-untyped-def]
    config = load(str(demo.rs.kubeconfig))
    pb = all_playbooks()[playbook]
    async with KubeClient(config) as client:
        snap = await load_snapshot(client, kinds_for([pb]), None)
        found = await pb.run(Context(snap, None, Repository(demo.repo), demo.repo))
    return config, next(f for f in found if f.object.name == name)


def test_a_fix_whose_target_changed_is_refused_as_stale(demo: Demo, tmp_path: Path):
    config, finding = asyncio.run(diagnose(demo, "pod-pending", "coditect-worker"))
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    apps = k8s.AppsV1Api(k8s_config.new_client_from_config(str(demo.rs.kubeconfig)))
    apps.patch_namespaced_deployment("coditect-worker", NS, {"metadata": {"labels": {"touched": "yes"}}})

    async def apply():  # type: ignore[no-untyped-def]
        async with KubeClient(config) as client:
            return await Applier(client, Journal(tmp_path / "j.jsonl"), config.context, demo.repo).apply(
                finding, finding.fixes[0]
            )

    result = asyncio.run(apply())
    assert result.result == "refused" and "stale" in result.message and result.journal_id is None
    dep = demo.rs.get("apps/v1", "Deployment", NS, "coditect-worker")
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"cloud.google.com/gke-nodepool": "default-pool"}
    assert not (tmp_path / "j.jsonl").exists(), "a refused fix writes nothing, not even to the journal"


class FailingCreates(KubeClient):
    """The API fails on the real create of a recreate, after the delete went through."""

    async def create(self, obj, dry_run=False):  # type: ignore[no-untyped-def,override]
        if not dry_run and not getattr(self, "failed", False):
            self.failed = True
            raise KubeError(500, "InternalError", "etcdserver: request timed out")
        return await super().create(obj, dry_run=dry_run)


def test_an_api_failure_mid_recreate_puts_the_original_back_and_the_journal_says_so(demo: Demo, tmp_path: Path):
    config, finding = asyncio.run(diagnose(demo, "secret-missing", "coditect-backend-migration"))
    journal = Journal(tmp_path / "j.jsonl")

    async def apply():  # type: ignore[no-untyped-def]
        async with FailingCreates(config) as client:
            return await Applier(client, journal, config.context, demo.repo).apply(finding, finding.fixes[0])

    result = asyncio.run(apply())
    assert result.result == "failed" and "original was put back" in result.message
    phases = [e["phase"] for e in journal.entries()]
    assert phases == ["started", "rolled-back"]
    job = wait_for(lambda: demo.rs.get("batch/v1", "Job", NS, "coditect-backend-migration"), what="the Job back")
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert any((e.get("valueFrom") or {}).get("secretKeyRef", {}).get("key") == "db-password" for e in env)


def seeded_secrets(demo: Demo) -> list[str]:
    doc = yaml.safe_load((Path(__file__).parents[2] / "sandbox" / "scenarios" / "demo.yaml").read_text())
    values = []
    for obj in doc["objects"]:
        if obj.get("kind") == "Secret":
            for v in (obj.get("data") or {}).values():
                values += [v, base64.b64decode(v).decode()]
            values += list((obj.get("stringData") or {}).values())
    assert any("PITSTOP-SEEDED-SECRET" in v for v in values)
    return values


def test_no_secret_value_appears_in_any_report_journal_or_log(demo: Demo, tmp_path: Path, caplog):
    secrets = seeded_secrets(demo)
    outputs = []
    for fmt in ("text", "json", "sarif", "junit"):
        _, out, err = demo.pitstop("--playbook", "all", "-o", fmt)
        outputs += [out, err]
    _code, out, err = demo.pitstop("--playbook", "all", "--apply", "--yes", "-o", "json")
    outputs += [out, err]
    assert json.loads(out)["applied"], "fixes were applied, so the journal has content to scan"
    journal = (Path(str(tmp_path)) / "state" / "pitstop" / "journal.jsonl").read_text()
    everything = "\n".join([*outputs, journal, caplog.text])
    leaked = [s for s in secrets if s in everything]
    assert not leaked, f"secret values leaked: {len(leaked)}"


def test_unreachable_cluster_exits_3_with_one_line_naming_the_server(tmp_path: Path, capsys):
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}],
    }
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(cfg))
    code = main(["--kubeconfig", str(path), "--repo", str(tmp_path), "--playbook", "pod-pending"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert len(err.strip().splitlines()) == 1 and "https://127.0.0.1:1" in err


def test_invalid_namespace_exits_2(demo: Demo):
    code, out, err = demo.pitstop("--namespace", "Not_A_Namespace", "--playbook", "pod-pending")
    assert code == 2 and out == "" and "Not_A_Namespace" in err and "Traceback" not in err


def test_forbidden_secrets_mean_could_not_check_never_a_false_finding(sandbox_factory, tmp_path, monkeypatch, capsys):
    from sandbox import scenario as scenarios
    from sandbox.workspace import copy_repo

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    rs = sandbox_factory("demo", clock_speed=100, forbidden=("secrets",))
    repo = copy_repo(scenarios.load("demo"), tmp_path / "r")
    code = main(
        [
            "--kubeconfig",
            str(rs.kubeconfig),
            "--repo",
            str(repo),
            "--playbook",
            "secret-missing,pod-pending",
            "-o",
            "json",
        ]
    )
    out, _err = capsys.readouterr()
    report = json.loads(out)
    status = {p["id"]: p for p in report["playbooks"]}
    assert status["secret-missing"]["status"] == "error"
    assert status["secret-missing"]["error"].startswith("could not check: forbidden")
    assert not [f for f in report["findings"] if f["playbook"] == "secret-missing"]
    assert status["pod-pending"]["status"] == "findings", "the other checks still run"
    assert code != 0, "a check that could not run is never an all clear"


def test_broken_yaml_and_broken_migration_are_findings_with_file_and_line(demo: Demo):
    (demo.repo / "k8s" / "staging" / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"
    )
    mig = demo.repo / "backend" / "tenants" / "migrations" / "0099_broken.py"
    mig.write_text("from django.db import migrations\n\nclass Migration(migrations.Migration)\n    dependencies = []\n")
    findings = demo.report("--playbook", "all")["findings"]
    located = {(f["location"] or {}).get("path"): f for f in findings if f.get("location")}
    assert "k8s/staging/broken.yaml" in located and located["k8s/staging/broken.yaml"]["location"]["line"] >= 1
    path = "backend/tenants/migrations/0099_broken.py"
    assert path in located and located[path]["location"]["line"] == 3
