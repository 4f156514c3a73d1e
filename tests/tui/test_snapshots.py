"""What the on-call engineer sees of the demo incident, pinned as SVG: the console, the fix review, the keys.

The app paints the canned demo (`canned.py`): no cluster, the clock stopped, cursors
not blinking, a fixed terminal. A change to any of these screens fails here until the
new look is accepted with `pytest tests/tui/test_snapshots.py --snapshot-update` and the
SVGs under `__snapshots__/test_snapshots/` are looked at.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, OptionList

from tests.tui.canned import SIZE, load, offline_app
from tui.screens.diff_review import DiffReview
from tui.screens.help import HelpScreen
from tui.widgets.findings_pane import FindingsPane


@pytest.fixture(autouse=True)
def _colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NO_COLOR in the environment would paint every screen monochrome and fail them all."""
    monkeypatch.delenv("NO_COLOR", raising=False)


async def _still(pilot: Any) -> None:
    """No blinking cursor anywhere: a screenshot must not depend on when in the blink it was taken."""
    for field in pilot.app.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_the_console_shows_the_demo_incident_at_a_glance(snap_compare: Any) -> None:
    """Header with four errors, nodes and pods with their real reasons, the findings, the warning events."""
    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=_still)


def test_d_on_the_wrong_nodepool_finding_opens_its_diff_review(snap_compare: Any) -> None:
    """The fix for the worker's nodeSelector: both targets listed, the live one shown with its coloured diff."""
    wrong_pool = load().finding("pod-pending", "coditect-worker")

    async def open_review(pilot: Any) -> None:
        await _still(pilot)
        pane = pilot.app.query_one(FindingsPane)
        olist = pane.query_one(OptionList)
        olist.focus()
        olist.highlighted = [f.id for f in pane.findings].index(wrong_pool.id)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(pilot.app.screen, DiffReview)
        assert pilot.app.screen.finding == wrong_pool

    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=open_review)


def test_question_mark_lists_every_key_and_command(snap_compare: Any) -> None:
    """`?` over the pods table: the `:` commands, the table's keys, the screen's and the app's."""

    async def open_help(pilot: Any) -> None:
        await _still(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)

    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=open_help)
