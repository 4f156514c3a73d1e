"""The console against the demo cluster: navigate, find, review, apply, verify, undo — with Pilot key presses."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.css.query import NoMatches
from textual.widgets import OptionList, TabbedContent

from diagnostics.github import SetupNeeded
from diagnostics.journal import Journal
from diagnostics.kubeconfig import load
from sandbox import scenario as scenarios
from sandbox.workspace import copy_repo
from tests.conftest import RunningSandbox
from tests.playbooks.demo import NS, settled
from tui.app import PitstopApp
from tui.screens.confirm_context import ConfirmContext
from tui.screens.diff_review import DiffReview
from tui.widgets.diff_view import DiffView
from tui.widgets.findings_pane import FindingsPane
from tui.widgets.status_header import StatusHeader

SIZE = (160, 48)


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Let the app run until `predicate()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except NoMatches:  # not mounted yet
            value = None
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def demo_cluster(sandbox_factory, tmp_path, monkeypatch) -> tuple[RunningSandbox, Path]:  # type: ignore[no-untyped-def]
    from tests.conftest import wait_for

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rs = sandbox_factory("demo", clock_speed=100)
    repo = copy_repo(scenarios.load("demo"), tmp_path / "repos")
    assert repo is not None
    wait_for(lambda: settled(rs), what="the demo's incidents to show")
    return rs, repo


def make_app(
    rs: RunningSandbox, repo: Path, tmp_path: Path, kubeconfig: Path | None = None, app_class: type = PitstopApp
) -> PitstopApp:
    path = kubeconfig or rs.kubeconfig
    return app_class(
        load(str(path)),
        repo=repo,
        kubeconfig=str(path),
        journal=Journal(tmp_path / "journal.jsonl"),
        pipelines=SetupNeeded("no pipelines in this test"),
        now=lambda: datetime.now(UTC).replace(year=2031, month=2, day=3),  # a clock the fixes must follow
    )


def finding(app: PitstopApp, playbook: str, name: str) -> Any:
    return next((f for f in app.findings if f.playbook == playbook and f.object.name == name), None)


async def open_review(pilot: Any, app: PitstopApp, playbook: str, name: str) -> DiffReview:
    f = await until(pilot, lambda: finding(app, playbook, name), what=f"the {playbook} finding on {name}")
    pane = app.query_one(FindingsPane)
    olist = pane.query_one(OptionList)
    olist.focus()
    olist.highlighted = [x.id for x in pane.findings].index(f.id)
    await pilot.press("d")
    return await until(
        pilot, lambda: app.screen if isinstance(app.screen, DiffReview) else None, what="the diff review"
    )


def worker_selector(rs: RunningSandbox) -> dict[str, str]:
    return rs.get("apps/v1", "Deployment", NS, "coditect-worker")["spec"]["template"]["spec"]["nodeSelector"]


def worker_ready(rs: RunningSandbox) -> bool:
    d = rs.get("apps/v1", "Deployment", NS, "coditect-worker") or {}
    return d.get("status", {}).get("readyReplicas") == 2 and d.get("status", {}).get("updatedReplicas") == 2


async def test_panes_navigate_by_key_and_by_command(demo_cluster, tmp_path):
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one(StatusHeader).connection == "connected", what="connected")
        tabs = app.query_one(TabbedContent)
        for key, tab in (("2", "tab-jobs"), ("3", "tab-pipelines"), ("1", "tab-cluster")):
            await pilot.press(key)
            assert tabs.active == tab
        await pilot.press("colon", *"jobs", "enter")
        assert tabs.active == "tab-jobs"
        await pilot.press("colon", *"pods", "enter")
        assert tabs.active == "tab-cluster"
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")


async def test_wrong_nodepool_is_reviewed_applied_verified_and_undone(demo_cluster, tmp_path):
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        review = await open_review(pilot, app, "pod-pending", "coditect-worker")
        diff = review.query_one(DiffView).diff
        assert "-        cloud.google.com/gke-nodepool: default-pool" in diff
        assert "+        cloud.google.com/gke-nodepool: primary-node-pool" in diff
        await pilot.press("tab")  # the same change as a file edit
        assert "k8s/staging/worker-deployment.yaml" in review.query_one(DiffView).diff
        await pilot.press("shift+tab")
        await pilot.press("a")
        await until(pilot, lambda: review.state == "applied", timeout=60, what="the fix applied")
        assert "verified" in str(review.outcome)
        await until(pilot, lambda: worker_ready(rs), timeout=60, what="the worker pods scheduled and ready")
        await until(pilot, lambda: not finding(app, "pod-pending", "coditect-worker"), what="the finding to go")
        await pilot.press("escape")
        await pilot.press("u")
        await until(
            pilot,
            lambda: worker_selector(rs) == {"cloud.google.com/gke-nodepool": "default-pool"},
            what="the old template back",
        )
        await until(pilot, lambda: finding(app, "pod-pending", "coditect-worker"), timeout=60, what="the finding back")


async def test_migration_conflict_is_fixed_with_a_new_file(demo_cluster, tmp_path):
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        review = await open_review(pilot, app, "migration-conflict", "licenses")
        [fix] = review.finding.fixes
        path = fix.target.path
        assert path.startswith("backend/licenses/migrations/0007_merge_")
        assert f"+++ b/{path}" in review.query_one(DiffView).diff
        await pilot.press("a")
        await until(pilot, lambda: review.state == "applied", timeout=60, what="the merge migration written")
        assert (repo / path).is_file()
        assert "# Generated by Django" in (repo / path).read_text() and " on 2031-02-03 " in (repo / path).read_text()
        assert "verified" in str(review.outcome)
        await until(pilot, lambda: not finding(app, "migration-conflict", "licenses"), what="the conflict gone")


class RunsNoted(PitstopApp):
    """Notes which playbooks each run ran."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs: list[set[str]] = []

    def on_pitstop_app_playbooks_finished(self, msg: PitstopApp.PlaybooksFinished) -> None:
        self.runs.append({o.id for o in msg.outcomes})


async def test_findings_are_refreshed_by_the_playbooks_that_read_what_changed(sandbox_factory, tmp_path):
    rs = sandbox_factory("empty", clock_speed=100)
    app = make_app(rs, tmp_path, tmp_path, app_class=RunsNoted)
    assert isinstance(app, RunsNoted)
    everyone = set(app.playbooks)
    reads_configmaps = {pid for pid, pb in app.playbooks.items() if "ConfigMap" in pb.kinds}
    assert reads_configmaps and reads_configmaps != everyone
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: everyone in app.runs, what="a first run of every playbook")
        findings_before = list(app.findings)
        app.runs.clear()
        store = rs.sb.store
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "default"}}
        rs.read(lambda: store.create(store.rt("v1", "ConfigMap"), configmap))
        await until(pilot, lambda: app.runs, what="a run after the change")
        assert all(run <= {pid for pid, pb in app.playbooks.items() if pb.kinds} for run in app.runs)
        assert any(run >= reads_configmaps for run in app.runs)
        assert not any(run == everyone for run in app.runs), "repository-only playbooks did not run for a ConfigMap"
        assert [f.id for f in app.findings] == [f.id for f in findings_before], "the others kept their findings"


async def test_production_context_needs_the_typed_name(demo_cluster, tmp_path):
    rs, repo = demo_cluster
    config = yaml.safe_load(rs.kubeconfig.read_text())
    prod = "gke_coditect-prod_us-central1_prod-cluster"
    config["contexts"][0]["name"] = prod
    config["current-context"] = prod
    path = tmp_path / "prod-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    app = make_app(rs, repo, tmp_path, kubeconfig=path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one(StatusHeader).production
        review = await open_review(pilot, app, "pod-pending", "coditect-worker")
        await pilot.press("a")
        confirm = await until(
            pilot,
            lambda: app.screen if isinstance(app.screen, ConfirmContext) else None,
            what="the context-name prompt",
        )
        await pilot.press(*"staging", "enter")
        assert app.screen is confirm and "does not match" in str(confirm.mismatch)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is review, what="back to the review")
        assert review.state == "idle"
        assert worker_selector(rs) == {"cloud.google.com/gke-nodepool": "default-pool"}, "nothing was applied"
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmContext), what="the prompt again")
        app.screen.query_one("Input").value = prod  # typing 40 characters key by key adds nothing to the test
        await pilot.press("enter")
        await until(pilot, lambda: review.state == "applied", timeout=60, what="the fix applied in production")
        assert worker_selector(rs) == {"cloud.google.com/gke-nodepool": "primary-node-pool"}


async def test_unreachable_cluster_opens_with_a_banner_and_keeps_retrying(tmp_path):
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
    app = PitstopApp(load(str(path)), repo=tmp_path, journal=Journal(tmp_path / "j"), pipelines=SetupNeeded("none"))
    async with app.run_test(size=SIZE) as pilot:
        banner = await until(
            pilot, lambda: app.query_one("#banner").display and app.query_one("#banner"), what="the unreachable banner"
        )
        assert "https://127.0.0.1:1" in str(banner.render())
        assert app.query_one(StatusHeader).connection == "unreachable"
        await pilot.press("2")  # still usable
        assert app.query_one(TabbedContent).active == "tab-jobs"


async def test_readiness_shows_each_namespaces_verdict_and_enter_reviews_a_blockers_fix(demo_cluster, tmp_path):
    from tui.screens.readiness import ReadinessScreen

    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None and app.findings, what="the first findings")
        await pilot.press("R")
        screen = await until(pilot, lambda: isinstance(app.screen, ReadinessScreen) and app.screen, what="readiness")
        lines = screen.lines
        assert any(line.startswith(f"BLOCKED: {NS}") for line in lines)
        assert any(line.startswith("READY: kube-system") for line in lines)
        assert any("coditect-backend-migration" in line and "enter: review the fix" in line for line in lines)
        olist = screen.query_one(OptionList)
        olist.highlighted = next(i for i, line in enumerate(lines) if "coditect-worker" in line)
        await pilot.press("enter")
        review = await until(pilot, lambda: isinstance(app.screen, DiffReview) and app.screen, what="the diff review")
        assert review.finding.playbook == "pod-pending" and review.finding.object.name == "coditect-worker"


async def test_a_migration_job_generated_from_the_deployment_is_reviewed_written_and_undone(demo_cluster, tmp_path):
    rs, repo = demo_cluster
    app = make_app(rs, repo, tmp_path)
    manifest = repo / "k8s/staging/migration-job.yaml"
    before = manifest.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None and app.findings, what="the first findings")
        app.namespace = NS
        await pilot.press("colon", *"migrate-job coditect-backend", "enter")
        review = await until(pilot, lambda: isinstance(app.screen, DiffReview) and app.screen, what="the Job's review")
        diff = review.query_one(DiffView).diff
        assert "+++ b/k8s/staging/migration-job.yaml" in diff
        assert "+                  key: database-password" in diff and "DJANGO_SECRET_KEY" in diff
        await pilot.press("a")
        await until(pilot, lambda: review.state == "applied", timeout=30, what="the Job written")
        assert manifest.read_text() != before and "database-password" in manifest.read_text()
        await pilot.press("escape", "u")
        await until(pilot, lambda: manifest.read_text() == before, timeout=30, what="the manifest restored by undo")
        await pilot.press("colon", *"migrate-job no-such-deployment", "enter")
        await pilot.pause()
        assert app.screen is app.main, "an unknown Deployment is a notification, not a review"
