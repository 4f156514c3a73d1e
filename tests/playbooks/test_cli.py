"""The `pitstop` command line in headless mode: flags, guards, exit codes, output formats, journal and undo."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml

import playbooks.catalog
from playbooks.catalog import ENTRY_POINT_GROUP
from tests.playbooks.demo import Demo
from tests.playbooks.drill import start_drill, wait_for_reason
from tui.cli import main

NS = "affinity"  # Deployment `reports` requires pool=highmem; the nodes are pool=general
PROD = "gke_prod-cluster"


@pytest.fixture
def pool(sandbox_factory, tmp_path, monkeypatch, capsys) -> Demo:  # type: ignore[no-untyped-def]
    d = start_drill("small-pool", sandbox_factory, tmp_path, monkeypatch, capsys)
    wait_for_reason(d.rs, NS, "Unschedulable")
    return d


def affinity_values(d: Demo) -> list[str]:
    dep = d.rs.get("apps/v1", "Deployment", NS, "reports")
    assert dep is not None
    req = dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    values: list[str] = req["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
    return values


def journal(tmp_path: Path) -> Path:
    return tmp_path / "state" / "pitstop" / "journal.jsonl"


def one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pitstop: ") and "Traceback" not in err, err
    return lines[0]


def production_kubeconfig(d: Demo, tmp_path: Path) -> Path:
    """The sandbox's kubeconfig with its context and cluster renamed the way GKE names a production cluster."""
    cfg: dict[str, Any] = yaml.safe_load(d.rs.kubeconfig.read_text())
    old = cfg["current-context"]
    for section in ("contexts", "clusters"):
        for entry in cfg[section]:
            if entry["name"] == old:
                entry["name"] = PROD
    for entry in cfg["contexts"]:
        entry["context"]["cluster"] = PROD
    cfg["current-context"] = PROD
    path = tmp_path / "prod-kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def pitstop_in(d: Demo, kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    d.capsys.readouterr()
    code = main(["--kubeconfig", str(kubeconfig), "--repo", str(d.repo), *args])
    out, err = d.capsys.readouterr()
    return code, out, err


def test_list_playbooks_prints_every_id_with_its_title(capsys):
    assert main(["--list-playbooks"]) == 0
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line for line in out.splitlines()}
    for pid in ("pod-pending", "image-pull", "secret-missing", "migration-conflict", "manifest-syntax"):
        assert pid in rows
    assert "Pods the scheduler cannot place" in rows["pod-pending"] and err == ""


def test_third_party_playbooks_are_listed_and_run_like_the_builtin_ones(pool: Demo, monkeypatch):
    eps = [EntryPoint(name="helm", value="tests.playbooks.fake_plugin:PLAYBOOK", group=ENTRY_POINT_GROUP)]
    monkeypatch.setattr(playbooks.catalog, "entry_points", lambda *, group: eps if group == ENTRY_POINT_GROUP else [])
    assert main(["--list-playbooks"]) == 0
    out, _err = pool.capsys.readouterr()
    assert "helm-release-stuck" in out and "Helm releases stuck in a pending state" in out
    code, out, err = pool.pitstop("--playbook", "helm-release-stuck,pod-pending", "-n", NS, "-o", "json")
    report = json.loads(out)
    assert code == 1, err
    assert [(p["id"], p["status"]) for p in report["playbooks"]] == [
        ("helm-release-stuck", "ok"),
        ("pod-pending", "findings"),
    ]


def test_an_unknown_playbook_exits_2_with_one_sentence_naming_it(pool: Demo):
    code, out, err = pool.pitstop("--playbook", "pod-pendng")
    assert (code, out) == (2, "")
    line = one_sentence(err)
    assert "'pod-pendng'" in line and "pod-pending" in line


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--apply",), "add --yes"),
        (("--apply", "--read-only", "--yes"), "--read-only"),
        (("--apply", "--read-only"), "--read-only"),
    ],
)
def test_apply_without_yes_or_with_read_only_is_a_usage_error_and_changes_nothing(pool: Demo, tmp_path, flags, says):
    code, out, err = pool.pitstop("-n", NS, "--playbook", "pod-pending", *flags)
    assert (code, out) == (2, "")
    assert says in one_sentence(err)
    assert affinity_values(pool) == ["highmem"] and not journal(tmp_path).exists()


@pytest.mark.parametrize("flags", [("--dry-run", "--apply", "--yes"), ("--dry-run", "--apply")])
def test_dry_run_asks_the_server_and_changes_nothing(pool: Demo, tmp_path, flags):
    code, out, err = pool.pitstop("-n", NS, "--playbook", "pod-pending", *flags, "-o", "json")
    assert code == 1, err
    [applied] = json.loads(out)["applied"]
    assert (applied["result"], applied["journal_id"], applied["verification"]) == ("dry-run", None, None)
    assert "nothing changed" in applied["message"]
    assert affinity_values(pool) == ["highmem"]
    assert not journal(tmp_path).exists(), "a dry run is not journaled"
    _code, text, _err = pool.pitstop("-n", NS, "--playbook", "pod-pending", *flags)
    assert "dry-run" in text


def test_a_production_context_needs_its_name_typed_before_anything_is_applied(pool: Demo, tmp_path):
    kubeconfig = production_kubeconfig(pool, tmp_path)
    args = ("-n", NS, "--playbook", "pod-pending", "--apply", "--yes", "--verify-timeout", "20", "-o", "json")

    code, out, err = pitstop_in(pool, kubeconfig, *args)
    assert (code, out) == (2, "")
    assert f"--confirm-context {PROD}" in one_sentence(err)
    code, out, err = pitstop_in(pool, kubeconfig, *args, "--confirm-context", "gke_staging-cluster")
    assert (code, out) == (2, "")
    assert affinity_values(pool) == ["highmem"] and not journal(tmp_path).exists()

    # reading a production cluster needs no confirmation
    code, out, _err = pitstop_in(pool, kubeconfig, "-n", NS, "--playbook", "pod-pending", "-o", "json")
    assert code == 1 and json.loads(out)["context"] == PROD

    code, out, err = pitstop_in(pool, kubeconfig, *args, "--confirm-context", PROD)
    [applied] = json.loads(out)["applied"]
    assert (applied["result"], applied["verification"]) == ("applied", "verified"), err
    assert affinity_values(pool) == ["general"]


def test_fail_on_sets_the_severity_that_fails_the_run(pool: Demo):
    (pool.repo / "deploy.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n")
    code, out, _ = pool.pitstop("--playbook", "manifest-syntax", "-o", "json")
    assert code == 0 and [f["severity"] for f in json.loads(out)["findings"]] == ["warning"]
    assert pool.pitstop("--playbook", "manifest-syntax", "--fail-on", "error")[0] == 0
    assert pool.pitstop("--playbook", "manifest-syntax", "--fail-on", "warning")[0] == 1
    assert pool.pitstop("-n", NS, "--playbook", "pod-pending", "--fail-on", "error")[0] == 1
    assert pool.pitstop("-n", "healthy", "--playbook", "pod-pending", "--fail-on", "warning")[0] == 0


def test_an_unknown_fail_on_or_output_is_a_usage_error(pool: Demo):
    for flags in (("--fail-on", "info"), ("-o", "yaml")):
        with pytest.raises(SystemExit) as e:
            pool.pitstop("--playbook", "pod-pending", *flags)
        assert e.value.code == 2
        _out, err = pool.capsys.readouterr()
        assert "run 'pitstop --help'" in one_sentence(err)


def test_junit_and_sarif_reports_parse_and_carry_the_finding(pool: Demo):
    code, out, _ = pool.pitstop("-n", NS, "--playbook", "pod-pending", "-o", "junit")
    assert code == 1
    root = ET.fromstring(out)
    failures = root.findall(".//failure")
    assert failures and any("Required node affinity matches no node" in (f.get("message") or "") for f in failures)

    code, out, _ = pool.pitstop("-n", NS, "--playbook", "pod-pending", "-o", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    [result] = sarif["runs"][0]["results"]
    assert result["level"] == "error" and "Required node affinity matches no node" in result["message"]["text"]


def test_journal_lists_what_was_applied_and_undo_of_an_unknown_id_is_one_sentence(pool: Demo, tmp_path):
    code, out, err = pool.pitstop(
        "-n", NS, "--playbook", "pod-pending", "--apply", "--yes", "--verify-timeout", "20", "-o", "json"
    )
    [applied] = json.loads(out)["applied"]
    assert applied["result"] == "applied", err

    code, out, err = pool.pitstop("journal")
    assert code == 0 and err == ""
    [line] = [line for line in out.splitlines() if applied["journal_id"] in line]  # its final state only
    assert line.split()[2:4] == ["apply", "applied"]
    assert f"Deployment {NS}/reports" in line and "Require pool in (general)" in line

    code, out, err = pool.pitstop("undo", "20990101-000000-abcdef")
    assert (code, out) == (1, "")
    assert "no apply with id 20990101-000000-abcdef in the journal" in one_sentence(err)
    assert affinity_values(pool) == ["general"], "nothing was undone"

    code, out, err = pool.pitstop("undo", applied["journal_id"])
    assert code == 0 and out.startswith(f"undone: applied to Deployment {NS}/reports (journal id "), err
    assert affinity_values(pool) == ["highmem"]
    code, out, err = pool.pitstop("undo", applied["journal_id"])
    assert code == 1 and "already undone" in one_sentence(err)
