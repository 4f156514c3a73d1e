"""`readiness`: one verdict per namespace, every blocker with its way out, and `--only` to take that way."""

from __future__ import annotations

import json

from diagnostics.findings import Finding, ObjectRef
from playbooks.catalog import select
from playbooks.readiness import fix_command, verdict
from tests.playbooks.demo import NS, Demo


def finding(severity: str, namespace: str | None, name: str = "x", playbook: str = "pod-pending") -> Finding:
    kind = "Deployment" if namespace else "DjangoApp"
    return Finding(f"{playbook}-{name}-{severity}", playbook, severity, ObjectRef(kind, name, namespace), "t", "why")  # type: ignore[arg-type]


def test_the_verdict_is_the_worst_of_the_namespaces_findings_and_the_repositorys_where_it_deploys():
    found = [finding("warning", "a"), finding("error", "b"), finding("error", None, "licenses"), finding("info", "a")]
    assert verdict("a", found, repo_counts=False).verdict == "READY WITH WARNINGS"
    assert verdict("a", found, repo_counts=True).verdict == "BLOCKED", "a repository blocker counts where it deploys"
    assert verdict("b", found, repo_counts=False).blockers == (found[1],)
    assert verdict("c", found, repo_counts=False).verdict == "READY"


def test_aggregates_are_asked_for_by_name_only():
    assert "readiness" not in {pb.id for pb in select("all")}
    assert [pb.id for pb in select("readiness")] == ["readiness"]


def test_a_blocker_without_a_fix_says_what_to_do():
    f = finding("error", "a")
    assert fix_command(f).startswith("no automatic fix: why")


def test_the_demo_is_blocked_with_a_way_out_for_each_blocker_and_only_applies_the_one_named(demo: Demo, tmp_path):
    code, out, err = demo.pitstop("--playbook", "readiness", "-n", NS, "-o", "json")
    assert code == 1, err
    report = json.loads(out)
    [status] = report["playbooks"]
    assert status["id"] == "readiness" and status["status"] == "findings"
    [v] = [f for f in report["findings"] if f["playbook"] == "readiness" and f["object"]["kind"] == "Namespace"]
    assert v["severity"] == "error" and v["title"].startswith(f"BLOCKED: {NS}")
    others = {f["id"]: f for f in report["findings"] if f["playbook"] != "readiness"}
    blockers = [i for i in others if others[i]["severity"] == "error"]
    assert {"secret-missing", "pod-pending", "image-pull", "migration-conflict"} <= {
        others[i]["playbook"] for i in blockers
    }
    for i in blockers:
        assert i in v["explanation"], "every blocker is named with its way out"
    secret = next(i for i in blockers if others[i]["playbook"] == "secret-missing")
    assert f"--playbook secret-missing -n {NS} --only {secret} --apply --yes" in v["explanation"]

    code, out, err = demo.pitstop(
        "--playbook", "secret-missing", "-n", NS, "--only", secret, "--apply", "--yes", "-o", "json"
    )
    applied = json.loads(out)["applied"]
    assert [a["finding_id"] for a in applied] == [secret], "only the named finding was fixed"
    assert applied[0]["result"] == "applied"

    code, _, err = demo.pitstop("--playbook", "secret-missing", "--only", "0000000000000000", "--dry-run")
    assert "no finding 0000000000000000 in this run" in err
    code, _, err = demo.pitstop("--playbook", "secret-missing", "--only", secret)
    assert code == 2 and "add --apply --yes" in err


def test_kube_system_is_ready(demo: Demo):
    code, out, err = demo.pitstop("--playbook", "readiness", "-n", "kube-system", "-o", "json")
    assert code == 0, err
    [v] = [f for f in json.loads(out)["findings"] if f["playbook"] == "readiness"]
    assert v["severity"] == "info" and v["title"].startswith("READY: kube-system")
