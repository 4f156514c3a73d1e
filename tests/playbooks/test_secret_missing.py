"""secret-missing beyond the demo's wrong key: ConfigMap keys, envFrom names, volumes, optional refs, templates."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnostics.snapshot import Snapshot
from playbooks.base import Context
from playbooks.runner import run_one
from playbooks.secret_missing import PLAYBOOK
from tests.conftest import wait_for
from tests.playbooks.demo import Demo
from tests.playbooks.drill import SCENARIOS, changed_lines, in_namespace, start_drill, wait_for_reason


@pytest.fixture
def refs(sandbox_factory, tmp_path, monkeypatch, capsys) -> Demo:  # type: ignore[no-untyped-def]
    d = start_drill("config-refs", sandbox_factory, tmp_path, monkeypatch, capsys)
    for ns in ("cmkey", "envfrom"):
        wait_for_reason(d.rs, ns, "CreateContainerConfigError")
    wait_for(
        lambda: any(e.get("reason") == "FailedMount" for e in d.rs.list("v1", "Event", "volume")),
        what="the proxy's secret volume failing to mount",
    )
    return d


def findings(d: Demo, ns: str) -> list[dict[str, Any]]:
    return in_namespace(d.findings("secret-missing"), ns)


def apply(d: Demo, ns: str) -> list[tuple[str, str]]:
    code, out, err = d.pitstop(
        "-n", ns, "--playbook", "secret-missing", "--apply", "--yes", "--verify-timeout", "20", "-o", "json"
    )
    assert code in (0, 1), err
    return [(a["result"], a["verification"]) for a in json.loads(out)["applied"]]


def test_a_misspelt_configmap_key_gets_the_closest_existing_key(refs: Demo):
    [f] = findings(refs, "cmkey")
    assert f["title"] == "Key log_level not found in ConfigMap app-config"
    assert "Its keys are: feature-flags, log-level." in f["explanation"]
    assert any(
        "CreateContainerConfigError: couldn't find key log_level in ConfigMap cmkey/app-config" in e["text"]
        for e in f["evidence"]
    )
    [live] = f["fixes"]
    assert live["title"] == "Use key log-level of ConfigMap app-config"
    assert changed_lines(live["diff"]) == ["- key: log_level", "+ key: log-level"]
    assert apply(refs, "cmkey") == [("applied", "verified")]
    wait_for(lambda: refs.ready("storefront", "cmkey"), what="the storefront configured and ready")


def test_envfrom_naming_a_missing_secret_gets_the_similarly_named_one_everywhere_it_is_named(refs: Demo):
    [f] = findings(refs, "envfrom")  # named twice (envFrom and a secretKeyRef): still one finding
    assert f["title"] == 'Secret "backend-secret" not found'
    assert "The envFrom of container backend (and 1 more place(s))" in f["explanation"]
    assert "Secrets in envfrom: backend-secrets, stripe." in f["explanation"]
    assert any('CreateContainerConfigError: secret "backend-secret" not found' in e["text"] for e in f["evidence"])
    [live] = f["fixes"]
    assert live["title"] == "Use Secret backend-secrets instead of backend-secret"
    assert sorted(changed_lines(live["diff"])) == [
        "+ name: backend-secrets",
        "+ name: backend-secrets",
        "- name: backend-secret",
        "- name: backend-secret",
    ]
    assert apply(refs, "envfrom") == [("applied", "verified")]
    wait_for(lambda: refs.ready("backend", "envfrom"), what="both backend containers configured")


def test_a_secret_volume_whose_secret_does_not_exist_is_one_finding(refs: Demo):
    [f] = findings(refs, "volume")  # the volume and its two items name the same Secret
    assert f["title"] == 'Secret "proxy-tls" not found'
    assert f["explanation"].startswith("The volume tls refers to Secret volume/proxy-tls, which does not exist")
    assert any(
        'FailedMount: MountVolume.SetUp failed for volume "tls" : secret "proxy-tls" not found' in e["text"]
        for e in f["evidence"]
    )
    assert any(e["text"] == "Secrets in volume: none" for e in f["evidence"])
    assert f["fixes"] == [], "no Secret with a similar name to offer"


def test_optional_references_to_missing_keys_and_secrets_are_not_findings(refs: Demo):
    wait_for(lambda: refs.ready("worker", "optional"), what="the worker running without its optional settings")
    assert not findings(refs, "optional")


def test_a_deployment_scaled_to_zero_is_checked_from_its_template_before_any_pod_fails(refs: Demo):
    assert refs.rs.list("v1", "Pod", "latent") == []
    [f] = findings(refs, "latent")
    assert f["object"] == {"kind": "Deployment", "namespace": "latent", "name": "mailer"}
    assert f["title"] == "Key smtp_password not found in Secret mailer"
    assert [e["kind"] for e in f["evidence"]] == ["object"], "no pod has failed yet"
    [live] = f["fixes"]
    assert changed_lines(live["diff"]) == ["- key: smtp_password", "+ key: smtp-password"]


def seeded_values() -> list[str]:
    doc = yaml.safe_load((SCENARIOS / "config-refs.yaml").read_text())
    values: list[str] = []
    for obj in doc["objects"]:
        if obj.get("kind") == "Secret":
            for v in (obj.get("data") or {}).values():
                values += [v, base64.b64decode(v).decode()]
            for v in (obj.get("stringData") or {}).values():
                values += [v, base64.b64encode(v.encode()).decode()]
    assert sum("PITSTOP-SEEDED-SECRET" in v for v in values) == 4, "each of the 4 values, plain and encoded"
    return values


def test_evidence_reports_and_the_journal_never_hold_a_secret_value(refs: Demo, tmp_path: Path):
    outputs = []
    for fmt in ("text", "json", "sarif", "junit"):
        _code, out, err = refs.pitstop("--playbook", "secret-missing", "-o", fmt)
        outputs += [out, err]
    _code, out, err = refs.pitstop("--playbook", "secret-missing", "--apply", "--yes", "--verify-timeout", "1")
    outputs += [out, err]
    journal = tmp_path / "state" / "pitstop" / "journal.jsonl"
    assert journal.is_file(), "fixes were applied, so the journal has entries to scan"
    everything = "\n".join([*outputs, journal.read_text()])
    assert "backend-secrets" in everything and "PITSTOP-SEEDED-SECRET" not in everything
    assert not [v for v in seeded_values() if v in everything]


# --- snapshot-level cases: owners, odd specs --------------------------------------------------


def _deployment(name: str, pod_spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "1", **meta},
        "spec": {"template": {"spec": pod_spec}},
    }


def _env_from_secret(secret: str) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "app:1", "envFrom": [{"secretRef": {"name": secret}}]}]}


def test_a_workload_an_operator_owns_is_still_checked_and_its_pods_are_not_reported_twice():
    owned = _deployment(
        "kafka-exporter",
        _env_from_secret("kafka-exporter-creds"),
        ownerReferences=[{"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "name": "k", "uid": "uid-k"}],
    )
    rs = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "kafka-exporter-1",
            "namespace": "ns",
            "uid": "uid-rs",
            "ownerReferences": [{"kind": "Deployment", "name": "kafka-exporter", "uid": "uid-kafka-exporter"}],
        },
    }
    pod = {
        "kind": "Pod",
        "metadata": {
            "name": "kafka-exporter-1-x",
            "namespace": "ns",
            "uid": "uid-pod",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "kafka-exporter-1", "uid": "uid-rs"}],
        },
        "spec": _env_from_secret("kafka-exporter-creds"),
    }
    found = asyncio.run(PLAYBOOK.run(Context(Snapshot.from_objects("t", [owned, rs, pod]))))
    assert [(f.object.kind, f.title) for f in found] == [("Deployment", 'Secret "kafka-exporter-creds" not found')]


def test_odd_pod_specs_never_break_the_playbook():
    odd = [
        _deployment("empty", {}),
        _deployment(
            "nulls", {"containers": [{"name": "a", "env": [{"name": "X", "valueFrom": None}], "envFrom": [{}]}]}
        ),
        _deployment(
            "nameless", {"containers": [{"name": "a", "envFrom": [{"secretRef": {}}]}], "volumes": [{"secret": {}}]}
        ),
        {"kind": "Pod", "metadata": {"name": "bare", "namespace": "ns"}, "spec": {"imagePullSecrets": [{}]}},
    ]
    outcome = asyncio.run(run_one(PLAYBOOK, Context(Snapshot.from_objects("t", odd))))
    assert (outcome.status, outcome.findings) == ("ok", ()), outcome.error


def test_a_missing_key_read_by_two_containers_is_one_finding_whose_fix_corrects_both():
    def reads(container: str) -> dict[str, Any]:
        ref = {"secretKeyRef": {"name": "db", "key": "db_password"}}
        return {"name": container, "image": "app:1", "env": [{"name": "PGPASSWORD", "valueFrom": ref}]}

    dep = _deployment("api", {"initContainers": [reads("migrate")], "containers": [reads("api")]})
    secret = {"kind": "Secret", "metadata": {"name": "db", "namespace": "ns"}, "data": {"db-password": None}}
    [f] = asyncio.run(PLAYBOOK.run(Context(Snapshot.from_objects("t", [dep, secret]))))
    assert f.title == "Key db_password not found in Secret db"
    assert "env PGPASSWORD of container migrate (and 1 more place(s))" in f.explanation
    [live] = f.fixes
    assert changed_lines(live.diff) == ["- key: db_password", "+ key: db-password"] * 2
