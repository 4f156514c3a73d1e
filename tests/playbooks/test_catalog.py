"""The playbook catalogue: built-ins, third-party `pitstop.playbooks` entry points, and choosing by id."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import EntryPoint

import pytest

import playbooks.catalog
from diagnostics.snapshot import Snapshot
from playbooks import pod_pending
from playbooks.base import Context
from playbooks.catalog import ENTRY_POINT_GROUP, UnknownPlaybook, all_playbooks, select
from tests.playbooks import fake_plugin

BUILTIN_IDS = [
    "pod-pending",
    "image-pull",
    "secret-missing",
    "env-drift",
    "crash-loop",
    "dependency-missing",
    "job-failed",
    "migration-conflict",
    "schema-drift",
    "contract-drift",
    "manifest-syntax",
    "readiness",
]


def install(monkeypatch: pytest.MonkeyPatch, **plugins: str) -> None:
    """Pretend the packages installed declare these entry points (name → `module:attribute`)."""
    eps = [EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP) for name, value in plugins.items()]

    def entry_points(*, group: str) -> list[EntryPoint]:
        return eps if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(playbooks.catalog, "entry_points", entry_points)


def test_builtin_playbooks_come_first_in_a_fixed_order(monkeypatch):
    install(monkeypatch)
    assert list(all_playbooks()) == BUILTIN_IDS


def test_a_third_party_playbook_is_loaded_from_its_entry_point_and_runs(monkeypatch):
    install(monkeypatch, helm="tests.playbooks.fake_plugin:PLAYBOOK")
    found = all_playbooks()
    assert list(found) == [*BUILTIN_IDS, "helm-release-stuck"]
    assert found["helm-release-stuck"] is fake_plugin.PLAYBOOK
    [pb] = select("helm-release-stuck")
    release = {
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": "sh.helm.release.v1.shop.v7",
            "namespace": "shop",
            "labels": {"name": "shop", "status": "pending-upgrade"},
        },
        "data": {"release": None},
    }
    [finding] = asyncio.run(pb.run(Context(Snapshot.from_objects("t", [release]))))
    assert finding.title == "Helm release shop is pending-upgrade" and finding.playbook == "helm-release-stuck"


def test_a_plugin_given_as_a_class_is_instantiated(monkeypatch):
    install(monkeypatch, certs="tests.playbooks.fake_plugin:CertificateExpiring")
    assert isinstance(all_playbooks()["certificate-expiring"], fake_plugin.CertificateExpiring)


def test_a_plugin_reading_a_kind_pitstop_cannot_list_is_skipped_so_the_others_still_run(monkeypatch, caplog):
    class Quota(fake_plugin.HelmReleaseStuck):
        id = "quota-nearly-full"
        kinds = ("ResourceQuota",)

    monkeypatch.setattr(fake_plugin, "QUOTA", Quota(), raising=False)
    install(monkeypatch, quota="tests.playbooks.fake_plugin:QUOTA")
    with caplog.at_level(logging.WARNING, logger="pitstop.playbooks"):
        assert list(all_playbooks()) == BUILTIN_IDS
    assert "playbook plugin quota reads ResourceQuota, which pitstop cannot list" in caplog.text


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("tests.playbooks.no_such_plugin:PLAYBOOK", "No module named 'tests.playbooks.no_such_plugin'"),
        ("tests.playbooks.fake_plugin:MISSING", "MISSING"),
        ("tests.playbooks.fake_plugin:Exploding", "plugin configuration missing"),
        ("tests.playbooks.fake_plugin:NOT_A_PLAYBOOK", "does not provide id, title, kinds and run()"),
    ],
)
def test_a_broken_plugin_is_skipped_with_a_warning_naming_it(monkeypatch, caplog, value, why):
    install(monkeypatch, broken=value, helm="tests.playbooks.fake_plugin:PLAYBOOK")
    with caplog.at_level(logging.WARNING, logger="pitstop.playbooks"):
        found = all_playbooks()
    assert list(found) == [*BUILTIN_IDS, "helm-release-stuck"], "the broken one is skipped, the others load"
    [record] = [r for r in caplog.records if "broken" in r.getMessage()]
    assert record.levelno == logging.WARNING and why in record.getMessage()


def test_a_plugin_reusing_a_builtin_id_does_not_replace_the_builtin(monkeypatch, caplog):
    install(monkeypatch, impostor="tests.playbooks.fake_plugin:IMPOSTOR")
    with caplog.at_level(logging.WARNING, logger="pitstop.playbooks"):
        found = all_playbooks()
    assert found["pod-pending"] is pod_pending.PLAYBOOK
    assert list(found) == BUILTIN_IDS
    assert "playbook plugin impostor reuses the id 'pod-pending'; the built-in one is kept" in caplog.text


def test_all_selects_every_playbook_builtins_first(monkeypatch):
    install(monkeypatch, helm="tests.playbooks.fake_plugin:PLAYBOOK")
    every = [pid for pid in BUILTIN_IDS if pid != "readiness"]  # an aggregate: asked for by name
    assert [pb.id for pb in select("all")] == [*every, "helm-release-stuck"]
    assert [pb.id for pb in select(" all ")] == [*every, "helm-release-stuck"]


def test_ids_are_taken_in_the_order_given_and_each_once(monkeypatch):
    install(monkeypatch)
    assert [pb.id for pb in select("secret-missing, pod-pending,,")] == ["secret-missing", "pod-pending"]
    assert [pb.id for pb in select("pod-pending,pod-pending")] == ["pod-pending"]


@pytest.mark.parametrize("spec", ["pod-pendng", "pod-pending,nope", "ALL"])
def test_an_unknown_id_names_it_and_lists_the_known_ones(monkeypatch, spec):
    install(monkeypatch, helm="tests.playbooks.fake_plugin:PLAYBOOK")
    with pytest.raises(UnknownPlaybook) as e:
        select(spec)
    message = str(e.value)
    wrong = next(p for p in spec.split(",") if p not in BUILTIN_IDS)
    assert message.startswith(f"unknown playbook {wrong!r}; known playbooks: ")
    assert all(pid in message for pid in [*BUILTIN_IDS, "helm-release-stuck"]) and "(or 'all')" in message


@pytest.mark.parametrize("spec", ["", " , ,"])
def test_naming_no_playbook_at_all_is_refused(monkeypatch, spec):
    install(monkeypatch)
    with pytest.raises(UnknownPlaybook, match="no playbook named; known playbooks: pod-pending"):
        select(spec)
