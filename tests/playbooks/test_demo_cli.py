"""`pitstop --demo --playbook all` starts the practice cluster itself and diagnoses it."""

from __future__ import annotations

import json

from tui.cli import main


def test_demo_with_playbooks_reports_the_seeded_incidents(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = main(["--demo", "--playbook", "all", "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 1, err
    report = json.loads(out)
    found = {(f["playbook"], f["object"]["kind"], f["object"]["name"]) for f in report["findings"]}
    assert found == {
        ("pod-pending", "Deployment", "coditect-worker"),
        ("image-pull", "Deployment", "coditect-frontend"),
        ("secret-missing", "Job", "coditect-backend-migration"),
        ("migration-conflict", "DjangoApp", "licenses"),
        ("crash-loop", "Deployment", "coditect-backend"),  # I9 seen from the pods
        ("env-drift", "Job", "coditect-backend-migration"),  # I2, I3
        ("env-drift", "File", ".env.example"),  # names the Deployment sets that the example env lacks
        ("dependency-missing", "Service", "redis"),  # I9
        ("schema-drift", "DjangoApp", "tenants"),  # I8
        ("contract-drift", "File", "frontend/src/types/index.ts"),  # I6
    }
    assert "demo repository at " in err
    assert all(p["status"] in ("ok", "findings") for p in report["playbooks"])
