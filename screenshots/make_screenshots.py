"""Regenerate the README's screenshots from a real `pitstop --demo` session: `python screenshots/make_screenshots.py`.

Starts the demo sandbox and its repository the way `pitstop --demo` does, drives the
console with Pilot key presses in a 160 by 48 terminal, and writes:

- `main.svg`         the console once the incident has steadied: pods, findings, events;
- `findings.svg`     `:findings`, with the wrong-node-pool finding highlighted;
- `diff-review.svg`  `d` on it: the fix, its targets and the coloured diff;
- `after-apply.svg`  `a` really applied, verified, the review closed: the worker pods
                     running on the existing pool and the finding gone.

Every run writes new SVGs (the sandbox's names and ages differ); nothing is written
unless the whole session succeeded. Journal, repository copy and caches live in a
temporary directory, never in your state directory.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere: `tests` is imported from the checkout

from diagnostics.github import settings as github_settings  # noqa: E402
from diagnostics.journal import Journal  # noqa: E402
from diagnostics.kubeconfig import load  # noqa: E402
from diagnostics.podstatus import summarize  # noqa: E402
from sandbox.server import SandboxThread  # noqa: E402
from sandbox.workspace import copy_repo  # noqa: E402
from tests.tui.canned import SIZE, steady  # noqa: E402
from tui.app import PitstopApp  # noqa: E402
from tui.screens.diff_review import DiffReview  # noqa: E402
from tui.widgets.findings_pane import FindingsPane  # noqa: E402
from tui.widgets.status_header import StatusHeader  # noqa: E402

NS = "coditect-staging"
WORKER = "coditect-worker"
TITLE = "pitstop --demo"
INCIDENTS = {"pod-pending", "image-pull", "secret-missing", "migration-conflict"}


async def until(pilot: Any, predicate: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """Let the app run until `predicate()` is truthy; give up naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await pilot.pause(0.05)
    raise SystemExit(f"make_screenshots: timed out after {timeout:g}s waiting for {what}")


def pods(app: PitstopApp) -> list[dict[str, Any]]:
    return app.snapshot.list("Pod") if app.snapshot else []


def wrong_pool(app: PitstopApp) -> Any:
    return next((f for f in app.findings if f.playbook == "pod-pending" and f.object.name == WORKER), None)


def workers_running(app: PitstopApp) -> bool:
    workers = [p for p in pods(app) if p["metadata"]["name"].startswith(WORKER + "-")]
    states = [summarize(p) for p in workers]
    return len(workers) == 2 and all(s.status == "Running" and s.ready == s.total for s in states)


async def session(app: PitstopApp) -> dict[str, str]:
    shots: dict[str, str] = {}
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: app.query_one(StatusHeader).connection == "connected", "the cluster connection")
        await until(
            pilot,
            lambda: {f.playbook for f in app.findings} >= INCIDENTS and steady(pods(app)),
            "the demo's four incidents (and what the newer playbooks add), with every pod where it stays",
        )
        await pilot.pause(0.3)  # one throttled repaint after the last change
        shots["main"] = app.export_screenshot(title=TITLE)

        await pilot.press("colon", *"findings", "enter")
        pane = app.query_one(FindingsPane)
        target = wrong_pool(app)
        for _ in pane.findings:
            if pane.highlighted == target:
                break
            await pilot.press("down")
        if pane.highlighted != target:
            raise SystemExit("make_screenshots: the wrong-node-pool finding could not be highlighted")
        await pilot.pause()
        shots["findings"] = app.export_screenshot(title=TITLE)

        await pilot.press("d")
        review = await until(pilot, lambda: app.screen if isinstance(app.screen, DiffReview) else None, "the review")
        await pilot.pause()
        shots["diff-review"] = app.export_screenshot(title=TITLE)

        await pilot.press("a")
        await until(pilot, lambda: review.result is not None, "the apply to finish and be verified")
        if not (review.result.ok and review.result.verification == "verified"):
            raise SystemExit(f"make_screenshots: the fix did not verify: {review.outcome}")
        await pilot.press("escape")
        await until(
            pilot,
            lambda: wrong_pool(app) is None and workers_running(app) and steady(pods(app)),
            "the finding to go and the worker pods to run",
        )
        await pilot.pause(0.3)
        shots["after-apply"] = app.export_screenshot(title=TITLE)
        await pilot.press("q")
    return shots


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pitstop-screenshots-") as tmp:
        os.environ["XDG_STATE_HOME"] = f"{tmp}/state"
        os.environ["XDG_CACHE_HOME"] = f"{tmp}/cache"
        runner = SandboxThread("demo", clock_speed=10.0)  # what `pitstop --demo` runs
        with runner as sb:
            if not runner.call(sb.settled()):
                raise SystemExit("make_screenshots: the demo cluster did not settle within 30 s")
            kubeconfig = sb.write_kubeconfig(Path(tmp) / "kubeconfig")
            repo = copy_repo(sb.scenario, Path(tmp) / "repos")
            assert repo is not None, "the demo scenario ships a repository"
            config = load(str(kubeconfig))
            app = PitstopApp(
                config,
                repo=repo,
                kubeconfig=str(kubeconfig),
                journal=Journal(Path(tmp) / "journal.jsonl"),
                pipelines=github_settings(repo, sandbox_extension=config.extensions.get("pitstop.dev/sandbox")),
            )
            shots = asyncio.run(session(app))
    for name, svg in shots.items():
        (HERE / f"{name}.svg").write_text(svg, encoding="utf-8")
        print(f"wrote screenshots/{name}.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
