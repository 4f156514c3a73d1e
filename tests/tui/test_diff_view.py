"""The diff widget: a wrong node pool's fix must read at a glance — what goes (red), what comes (green), where."""

from __future__ import annotations

import time

from rich.style import Style
from textual.app import App, ComposeResult

from diagnostics.diffs import unified
from tui.widgets.diff_view import DiffView, parse_diff

BEFORE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coditect-worker
  namespace: coditect-staging
spec:
  template:
    spec:
      nodeSelector:
        cloud.google.com/gke-nodepool: default-pool
      containers:
      - name: worker
        image: us-central1-docker.pkg.dev/coditect-cloud-infra/coditect/backend:v1.0.6-staging
"""
NODEPOOL_DIFF = unified(
    BEFORE, BEFORE.replace("default-pool", "primary-node-pool"), "k8s/staging/worker-deployment.yaml"
)


class Host(App[None]):
    def __init__(self, diff: str) -> None:
        super().__init__()
        self.diff = diff

    def compose(self) -> ComposeResult:
        yield DiffView(self.diff)


def _styled_text(view: DiffView, y: int) -> list[tuple[str, Style | None]]:
    return [(seg.text, seg.style) for seg in view.render_line(y) if seg.text.strip()]


def _line_style(view: DiffView, startswith: str) -> tuple[str, Style]:
    for y in range(view.size.height):
        segments = _styled_text(view, y)
        body = [(text, style) for text, style in segments if text.startswith(startswith)]
        if body:
            gutter = "".join(text for text, _ in segments if not text.startswith(startswith))
            assert body[0][1] is not None
            return gutter.strip(), body[0][1]
    raise AssertionError(f"no line starting with {startswith!r} on screen")


async def test_wrong_nodepool_fix_is_red_then_green_with_new_line_numbers() -> None:
    app = Host(NODEPOOL_DIFF)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        view = app.query_one(DiffView)
        header_gutter, header = _line_style(view, "--- a/k8s")
        assert header.bold and header_gutter == "│", "a header has no line number"
        _, hunk = _line_style(view, "@@")
        assert hunk.color is not None and hunk.color.name == "cyan"
        removed_gutter, removed = _line_style(view, "-        cloud.google.com/gke-nodepool: default-pool")
        assert removed.color is not None and removed.color.name == "red"
        assert removed_gutter == "│", "a removed line has no number in the new file"
        added_gutter, added = _line_style(view, "+        cloud.google.com/gke-nodepool: primary-node-pool")
        assert added.color is not None and added.color.name == "green"
        assert added_gutter == "10 │", "the gutter shows the line number in the new file"
        context_gutter, context = _line_style(view, "       nodeSelector:")
        assert context.dim and context_gutter == "9 │"


def test_a_removed_line_that_looks_like_a_header_stays_a_removal() -> None:
    diff = "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,2 +1,2 @@\n--- a yaml document marker\n+---\n same\n"
    kinds = [line.kind for line in parse_diff(diff)]
    assert kinds == ["header", "header", "hunk", "removed", "added", "context"]
    assert [line.new_number for line in parse_diff(diff)] == [None, None, None, None, 1, 2]


def test_a_new_file_and_a_missing_final_newline() -> None:
    diff = unified(None, "from django.db import migrations", "backend/app/migrations/0008_merge.py")
    lines = parse_diff(diff)
    assert lines[0].text == "--- /dev/null" and lines[0].kind == "header"
    assert lines[3].kind == "added" and lines[3].new_number == 1
    assert lines[-1].kind == "note" and "No newline" in lines[-1].text


async def test_a_two_thousand_line_diff_scrolls_to_its_end() -> None:
    before = "".join(f"key{i}: value{i}\n" for i in range(2000))
    after = "".join(f"key{i}: {'changed' if i % 2 else 'value'}{i}\n" for i in range(2000))
    diff = unified(before, after, "big.yaml")
    app = Host("")
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        started = time.perf_counter()
        view.show(diff)
        await pilot.pause()
        assert view.virtual_size.height == len(diff.splitlines())
        view.focus()
        await pilot.press("end")
        await pilot.pause()
        last = "".join(seg.text for seg in view.render_line(view.size.height - 1))
        assert "key1999: changed1999" in last and "2000 │" in last
        assert time.perf_counter() - started < 5, "showing and scrolling a 2,000-line diff must not stall the UI"


async def test_empty_diff_says_so() -> None:
    app = Host("")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = "".join(seg.text for seg in app.query_one(DiffView).render_line(0))
        assert "(no changes)" in text
