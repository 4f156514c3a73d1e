"""The diff review modal on the wrong-node-pool incident: review the fix, switch live ⇄ file, apply, see the outcome."""

from __future__ import annotations

import copy
import io
from typing import Any

from rich.console import Console, RenderableType
from textual.app import App
from textual.widgets import Input, Static

from diagnostics.diffs import object_diff, unified
from diagnostics.findings import FilePlan, FileTarget, Finding, Fix, LivePlan, LiveTarget, ObjectRef
from tui.screens.confirm_context import ConfirmContext
from tui.screens.diff_review import DiffReview
from tui.widgets.diff_view import DiffView

CONTEXT = "prod-us-central1"
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coditect-worker
  namespace: coditect-staging
spec:
  replicas: 2
  template:
    spec:
      nodeSelector:
        cloud.google.com/gke-nodepool: default-pool  # the pool was renamed in the GKE migration
      containers:
      - name: worker
        image: us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.6-staging
"""


def _deployment(pool: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coditect-worker", "namespace": "coditect-staging", "resourceVersion": "4711"},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "nodeSelector": {"cloud.google.com/gke-nodepool": pool},
                    "containers": [{"name": "worker", "image": "backend:v1.0.6-staging"}],
                }
            },
        },
    }


def nodepool_finding() -> Finding:
    before, after = _deployment("default-pool"), _deployment("primary-node-pool")
    live = Fix(
        id="live-nodeselector",
        title="Select the existing node pool primary-node-pool",
        target=LiveTarget("apps/v1", "Deployment", "coditect-staging", "coditect-worker", "4711"),
        diff=object_diff(before, after, "deployment/coditect-worker"),
        risk="low",
        notes="A rolling update moves the pods to primary-node-pool.",
        plan=LivePlan("replace", before, copy.deepcopy(after)),
    )
    fixed = MANIFEST.replace("default-pool", "primary-node-pool")
    path = "k8s/staging/worker-deployment.yaml"
    file = Fix(
        id="file-nodeselector",
        title="Fix the manifest so the next deploy keeps the right pool",
        target=FileTarget(path),
        diff=unified(MANIFEST, fixed, path),
        risk="none",
        notes="Commit and push it; the live object is not touched.",
        plan=FilePlan(MANIFEST, fixed),
    )
    return Finding(
        id="f1",
        playbook="pod-pending",
        severity="error",
        object=ObjectRef("Deployment", "coditect-worker", "coditect-staging"),
        title="Pods cannot be scheduled: no node has cloud.google.com/gke-nodepool=default-pool",
        explanation="The nodeSelector asks for a node pool that no longer exists; every pod stays Pending.",
        fixes=(live, file),
    )


class Host(App[None]):
    def __init__(self, review: DiffReview) -> None:
        super().__init__()
        self.review = review
        self.requests: list[DiffReview.ApplyRequested] = []
        self.results: list[DiffReview.Result | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.review, self.results.append)

    def on_diff_review_apply_requested(self, message: DiffReview.ApplyRequested) -> None:
        self.requests.append(message)


def plain(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def shown(app: App[None], selector: str) -> str:
    return plain(app.screen.query_one(selector, Static).content)  # type: ignore[arg-type]


async def test_tab_switches_between_the_live_fix_and_the_file_fix() -> None:
    finding = nodepool_finding()
    app = Host(DiffReview(finding, "staging", production=False, read_only=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "live Deployment coditect-staging/coditect-worker" in shown(app, "#review-fix")
        assert "Risk    low" in shown(app, "#review-fix")
        assert app.screen.query_one(DiffView).diff == finding.fixes[0].diff
        await pilot.press("tab")
        assert "file k8s/staging/worker-deployment.yaml" in shown(app, "#review-fix")
        assert "▶ 2. file k8s/staging/worker-deployment.yaml" in shown(app, "#review-fixes")
        assert app.screen.query_one(DiffView).diff == finding.fixes[1].diff
        await pilot.press("tab")
        assert app.review.fix is finding.fixes[0]


async def test_a_asks_the_app_to_apply_the_selected_fix_and_shows_verified() -> None:
    finding = nodepool_finding()
    app = Host(DiffReview(finding, "staging"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("tab", "a")
        await pilot.pause()
        assert [(m.finding, m.fix) for m in app.requests] == [(finding, finding.fixes[1])]
        assert app.requests[0].review is app.review
        assert app.review.outcome.startswith("Applying to file k8s/staging/worker-deployment.yaml")
        await pilot.press("tab")  # the fix being applied stays on display
        assert app.review.fix is finding.fixes[1]
        app.review.show_outcome("edited k8s/staging/worker-deployment.yaml", "verified", ok=True)
        await pilot.pause()
        assert "edited k8s/staging/worker-deployment.yaml — verified" in shown(app, "#review-outcome")
        await pilot.press("a")  # a second `a` after success does nothing
        await pilot.pause()
        assert len(app.requests) == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [DiffReview.Result(finding, finding.fixes[1], True, app.review.result.text, "verified")]  # type: ignore[union-attr]


async def test_a_refusal_is_shown_and_the_operator_may_try_again() -> None:
    finding = nodepool_finding()
    app = Host(DiffReview(finding, "staging"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        stale = "Deployment coditect-staging/coditect-worker changed since it was diagnosed; the fix is stale — re-run"
        app.review.show_outcome(stale, None, ok=False)
        await pilot.pause()
        assert f"✗ {stale}" in shown(app, "#review-outcome")
        await pilot.press("a")
        await pilot.pause()
        assert len(app.requests) == 2


async def test_not_yet_resolved_is_shown_as_such() -> None:
    app = Host(DiffReview(nodepool_finding(), "staging"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        app.review.show_outcome("applied to Deployment coditect-staging/coditect-worker", "not yet resolved", ok=True)
        await pilot.pause()
        assert "— not yet resolved" in shown(app, "#review-outcome")


async def test_read_only_refuses_to_apply() -> None:
    app = Host(DiffReview(nodepool_finding(), "staging", read_only=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert app.requests == []
        assert "Read-only" in shown(app, "#review-outcome")
        assert isinstance(app.screen, DiffReview)


async def test_production_needs_the_context_name_typed_exactly() -> None:
    finding = nodepool_finding()
    app = Host(DiffReview(finding, CONTEXT, production=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmContext)
        confirm: ConfirmContext = app.screen
        assert CONTEXT in shown(app, "#confirm-prompt")
        await pilot.press(*"prod-us-central", "enter")  # one letter short
        await pilot.pause()
        assert app.screen is confirm, "a wrong name keeps the dialog open"
        assert "does not match" in confirm.mismatch
        assert app.requests == []
        confirm.query_one(Input).value = ""
        await pilot.press(*CONTEXT, "enter")
        await pilot.pause()
        assert isinstance(app.screen, DiffReview)
        assert [m.fix for m in app.requests] == [finding.fixes[0]]


async def test_escape_in_the_production_prompt_applies_nothing() -> None:
    app = Host(DiffReview(nodepool_finding(), CONTEXT, production=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmContext)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiffReview)
        assert app.requests == []
        assert "not confirmed" in app.review.outcome


async def test_a_job_fix_is_shown_as_delete_and_recreate_with_a_high_risk_warning() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "coditect-staging"}}
    fix = Fix(
        id="recreate",
        title="Recreate the migration Job with DJANGO_SECRET_KEY",
        target=LiveTarget("batch/v1", "Job", "coditect-staging", "migrate", "99"),
        diff=object_diff(job, {**job, "spec": {"backoffLimit": 2}}, "job/migrate"),
        risk="high",
        notes="The Job runs the migrations again.",
        plan=LivePlan("recreate", job, job),
    )
    finding = Finding(
        id="f2",
        playbook="secret-missing",
        severity="error",
        object=ObjectRef("Job", "migrate", "coditect-staging"),
        title="Job migrate fails: DJANGO_SECRET_KEY is not set",
        explanation="x" * 1000,
        fixes=(fix,),
    )
    app = Host(DiffReview(finding, "staging"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        details = shown(app, "#review-fix")
        assert "live Job coditect-staging/migrate" in details
        assert "delete and recreate" in details
        assert "high risk" in details
        assert len(shown(app, "#review-about")) < 600, "the explanation is kept short"
        await pilot.press("q")
        await pilot.pause()
        assert app.results == [None]
