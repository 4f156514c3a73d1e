"""`ctrl+p` during the wrong-node-pool incident: every playbook, namespace, context and fix is a few letters away."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit
from textual.content import Content
from textual.pilot import Pilot

import tui.app as app_module
from diagnostics.findings import Finding, ObjectRef
from diagnostics.snapshot import Snapshot
from tests.tui.test_diff_review import nodepool_finding
from tui.app import PitstopApp
from tui.commands import ContextCommands, FixCommands, NamespaceCommands, PlaybookCommands
from tui.screens.diff_review import DiffReview

NS = "coditect-staging"
NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)
KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: gke_coditect_staging
contexts:
- name: gke_coditect_staging
  context: {cluster: staging, user: oncall, namespace: coditect-staging}
- name: gke_coditect_prod-us-central1
  context: {cluster: prod, user: oncall}
- name: kind-pitstop
  context: {cluster: kind, user: kind}
"""
NODEPOOL_FIX = (
    "fix: review Pods cannot be scheduled: no node has cloud.google.com/gke-nodepool=default-pool"
    " (Deployment coditect-staging/coditect-worker)"
)


class Console(PitstopApp):
    CSS_PATH = str(Path(app_module.__file__).with_name("pitstop.tcss"))  # relative paths resolve from this file
    COMMANDS = PitstopApp.COMMANDS | {PlaybookCommands, NamespaceCommands, ContextCommands, FixCommands}


def pod(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def image_finding_without_fix() -> Finding:
    return Finding(
        id="f2",
        playbook="image-pull",
        severity="warning",
        object=ObjectRef("Pod", "metrics-0", "monitoring"),
        title="Registry [/celery] did not answer",  # looks like markup; must not break the palette
        explanation="The registry timed out; nothing to change on our side.",
    )


def bracketed_finding() -> Finding:
    return replace(
        nodepool_finding(),
        id="f3",
        object=ObjectRef("Deployment", "celery-beat", NS),
        title="Image [/celery] beat:v2 [bold]not found[/bold]",
    )


def console(tmp_path: Path, kubeconfig: str | None = KUBECONFIG) -> Console:
    path = tmp_path / "kubeconfig"
    if kubeconfig is not None:
        path.write_text(kubeconfig)
    objects = [
        namespace(NS),
        namespace("kube-system"),
        pod(NS, "coditect-worker-7d9f8-abcde"),
        pod(NS, "coditect-worker-7d9f8-fghij"),
        pod("monitoring", "metrics-0"),  # no Namespace object read: the pod still names it
    ]
    return Console(
        None,
        snapshot=Snapshot.from_objects("gke_coditect_staging", objects, taken_at=NOW),
        findings=[nodepool_finding(), image_finding_without_fix(), bracketed_finding()],
        now=lambda: NOW,
        kubeconfig=str(path),
    )


def record(app: PitstopApp, method: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(app, method, calls.append)
    return calls


async def until(pilot: Pilot[Any], ready: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.01)


def hits(app: PitstopApp) -> list[Hit | DiscoveryHit]:
    listed = app.screen.query_one(CommandList)
    return [listed.get_option_at_index(i).hit for i in range(listed.option_count)]  # type: ignore[attr-defined]


def titles(app: PitstopApp) -> list[str]:
    return [str(hit.text) for hit in hits(app)]


def gathering(app: PitstopApp) -> bool:
    return any(w.group == CommandPalette._GATHER_COMMANDS_GROUP and not w.is_finished for w in app.workers)


async def palette(pilot: Pilot[Any], app: PitstopApp, query: str, expected: str) -> list[str]:
    """Open the palette, type `query`, and wait until the search is done and lists `expected`."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: CommandPalette.is_open(app), "the palette")
    await pilot.press(*query)
    await until(pilot, lambda: expected in titles(app) and not gathering(app), f"{expected!r} in the palette")
    return titles(app)


async def test_ctrl_p_lists_playbooks_namespaces_contexts_and_fixes_before_anything_is_typed(tmp_path: Path) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        listed = await palette(pilot, app, "", NODEPOOL_FIX)
        for expected in (
            "playbook: run all",
            "playbook: run pod-pending",
            "playbook: run migration-conflict",
            "namespace: all",
            "namespace: coditect-staging",
            "namespace: kube-system",
            "namespace: monitoring",
            "context: switch to gke_coditect_staging",
            "context: switch to gke_coditect_prod-us-central1",
            "context: switch to kind-pitstop",
            NODEPOOL_FIX,
        ):
            assert expected in listed, f"{expected!r} missing from {listed}"
        assert not [t for t in listed if "Registry" in t], "a finding without fixes has nothing to review"
        assert all(isinstance(hit, DiscoveryHit) for hit in hits(app))


async def test_typing_run_pod_pending_and_enter_runs_only_that_playbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record(app, "run_playbooks", monkeypatch)
        listed = await palette(pilot, app, "run pod-pending", "playbook: run pod-pending")
        assert listed[0] == "playbook: run pod-pending"
        assert hits(app)[0].help == "Pods the scheduler cannot place"
        await pilot.press("enter")
        await until(pilot, lambda: calls, "the playbook to run")
        assert calls == ["pod-pending"]
        assert not CommandPalette.is_open(app)


async def test_playbook_run_all_runs_every_playbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record(app, "run_playbooks", monkeypatch)
        listed = await palette(pilot, app, "playbook: run all", "playbook: run all")
        assert listed[0] == "playbook: run all"
        await pilot.press("enter")
        await until(pilot, lambda: calls, "the playbooks to run")
        assert calls == [None]


@pytest.mark.parametrize(
    ("query", "title", "chosen"),
    [
        ("namespace: monitoring", "namespace: monitoring", "monitoring"),
        ("namespace: all", "namespace: all", None),
    ],
)
async def test_namespace_commands_narrow_the_console_or_show_every_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: str, title: str, chosen: str | None
) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record(app, "switch_namespace", monkeypatch)
        listed = await palette(pilot, app, query, title)
        assert listed[0] == title
        await pilot.press("enter")
        await until(pilot, lambda: calls, "the namespace switch")
        assert calls == [chosen]


async def test_namespace_help_counts_pods_and_marks_the_one_shown(tmp_path: Path) -> None:
    app = console(tmp_path)
    app.namespace = NS
    async with app.run_test(size=(120, 40)) as pilot:
        await palette(pilot, app, "namespace", "namespace: coditect-staging")
        helps = {hit.text: hit.help for hit in hits(app)}
        assert helps["namespace: coditect-staging"] == "2 pods · shown now"
        assert helps["namespace: monitoring"] == "1 pods"
        assert helps["namespace: all"] == "show every namespace"


async def test_context_commands_mark_the_current_one_and_warn_of_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record(app, "switch_context", monkeypatch)
        prod = "context: switch to gke_coditect_prod-us-central1"
        listed = await palette(pilot, app, "context prod", prod)
        assert listed[0] == prod
        helps = {hit.text: hit.help for hit in hits(app)}
        assert "PRODUCTION" in str(helps[prod])
        await pilot.press("enter")
        await until(pilot, lambda: calls, "the context switch")
        assert calls == ["gke_coditect_prod-us-central1"]

        await palette(pilot, app, "context", "context: switch to kind-pitstop")
        helps = {str(hit.text): str(hit.help) for hit in hits(app) if str(hit.text).startswith("context:")}
        current = [title for title, help in helps.items() if "current context" in help]
        assert current == ["context: switch to gke_coditect_staging"]


async def test_an_unreadable_kubeconfig_is_one_clear_sentence_not_a_silent_gap(tmp_path: Path) -> None:
    app = console(tmp_path, kubeconfig=None)  # the file is never written
    async with app.run_test(size=(120, 40)) as pilot:
        await palette(pilot, app, "context", "context: switch to …")
        hit = next(h for h in hits(app) if h.text == "context: switch to …")
        assert "Cannot list the contexts" in str(hit.help) and "does not exist" in str(hit.help)
        await pilot.press("enter")
        await until(pilot, lambda: app._notifications, "the notification")
        assert "check the --kubeconfig path" in next(iter(app._notifications)).message


async def test_fix_command_opens_the_diff_review_of_that_finding(tmp_path: Path) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        listed = await palette(pilot, app, "fix nodepool", NODEPOOL_FIX)
        assert listed[0] == NODEPOOL_FIX
        assert hits(app)[0].help == "error · Select the existing node pool primary-node-pool (+1 more)"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DiffReview), "the diff review")
        assert app.screen.finding == app.findings[0]  # type: ignore[attr-defined]


async def test_fix_command_calls_the_apps_review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record(app, "open_review", monkeypatch)
        await palette(pilot, app, "fix: review pods cannot", NODEPOOL_FIX)
        await pilot.press("enter")
        await until(pilot, lambda: calls, "the review")
        assert calls == [app.findings[0]]


async def test_a_title_that_looks_like_markup_is_shown_as_it_is(tmp_path: Path) -> None:
    app = console(tmp_path)
    title = "fix: review Image [/celery] beat:v2 [bold]not found[/bold] (Deployment coditect-staging/celery-beat)"
    async with app.run_test(size=(120, 40)) as pilot:
        await palette(pilot, app, "", title)
        hit = next(h for h in hits(app) if h.text == title)
        assert isinstance(hit.prompt, Content) and hit.prompt.plain == title
        await pilot.press("escape")
        await until(pilot, lambda: not CommandPalette.is_open(app), "the palette to close")
        listed = await palette(pilot, app, "celery", title)
        assert listed[0] == title
        assert isinstance(hits(app)[0].prompt, Content) and hits(app)[0].prompt.plain == title
