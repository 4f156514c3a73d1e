"""The pods table stays fast and predictable with 10,000 rows: cursor, sorting, filter, updates under the cursor."""

from __future__ import annotations

import random
import time
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.resource_table import Column, ResourceTable, Row

COLUMNS = (
    Column("namespace", "NAMESPACE", 18),
    Column("name", "NAME"),
    Column("status", "STATUS", 20),
    Column("restarts", "RESTARTS", 8, "right"),
)
SIZE = (120, 40)
VISIBLE_ROWS = 40 - 2 - 1  # minus the border and the header


def row(i: int, status: str = "Running", restarts: int | None = None) -> Row:
    namespace = "coditect-staging" if i % 2 else "kube-system"
    name = f"coditect-backend-{i:05d}"
    count = i % 7 if restarts is None else restarts
    cell: str | Text = Text(status, style="red") if status != "Running" else status
    return Row(f"{namespace}/{name}", (namespace, name, cell, str(count)), (namespace, name, status, count))


def key(i: int) -> str:
    return f"{'coditect-staging' if i % 2 else 'kube-system'}/coditect-backend-{i:05d}"


def rows(n: int) -> list[Row]:
    return [row(i, "CrashLoopBackOff" if i % 10 == 3 else "Running") for i in range(n)]


class TableApp(App[None]):
    def __init__(self, table: ResourceTable) -> None:
        super().__init__()
        self.table = table
        self.seen: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        self.table.focus()

    def on_resource_table_row_highlighted(self, message: ResourceTable.RowHighlighted) -> None:
        self.seen.append(("highlighted", message.key))

    def on_resource_table_row_selected(self, message: ResourceTable.RowSelected) -> None:
        self.seen.append(("selected", message.key))


class CountingTable(ResourceTable):
    """Counts the row lines Textual asks for and the rows actually drawn (not served from the cache)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines_asked = 0
        self.rows_drawn = 0

    def render_line(self, y: int) -> Any:
        self.lines_asked += y > 0
        return super().render_line(y)

    def _line(self, *args: Any) -> Any:
        self.rows_drawn += 1
        return super()._line(*args)


def text_of(table: ResourceTable, y: int) -> str:
    return table.render_line(y).text


async def test_cursor_moves_with_arrows_vim_keys_pages_and_enter_opens_the_row():
    table = ResourceTable(COLUMNS)
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows(rows(200))
        await pilot.pause()
        assert table.cursor_key == "kube-system/coditect-backend-00000"
        await pilot.press("down", "down", "j", "k")
        assert table.cursor_key == "kube-system/coditect-backend-00002"
        await pilot.press("pagedown")
        assert table.cursor_key == key(2 + VISIBLE_ROWS)
        assert table.scroll_y > 0, "the cursor row is scrolled into view"
        await pilot.press("end")
        assert table.cursor_key == "coditect-staging/coditect-backend-00199"
        assert "coditect-backend-00199" in text_of(table, VISIBLE_ROWS), "the last row is on the last line"
        assert "NAMESPACE" in text_of(table, 0), "the header stays pinned while scrolled"
        await pilot.press("pageup", "home", "up")
        assert table.cursor_key == "kube-system/coditect-backend-00000"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.seen[-1] == ("selected", "coditect-staging/coditect-backend-00001")
        assert ("highlighted", "coditect-staging/coditect-backend-00001") in app.seen


async def test_sorting_by_column_with_keys_reverse_and_header_click():
    table = ResourceTable(COLUMNS)
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows([row(i, restarts=r) for i, r in enumerate([4, 0, 9, 2])])
        await pilot.pause()
        assert table.sort_column is None
        await pilot.press("greater_than_sign")
        assert table.sort_column == "namespace"
        await pilot.press("less_than_sign")
        assert table.sort_column == "restarts", "the choice wraps around"
        assert [r.sort_keys[3] for r in table.shown_rows] == [0, 2, 4, 9]
        assert "RESTARTS ▲" in text_of(table, 0)
        await pilot.press("exclamation_mark")
        assert [r.sort_keys[3] for r in table.shown_rows] == [9, 4, 2, 0]
        assert "RESTARTS ▼" in text_of(table, 0)
        await pilot.click(ResourceTable, offset=(30, 1))  # the NAME header (border at y=0, header at y=1)
        assert table.sort_column == "name"
        assert [r.cells[1] for r in table.shown_rows] == [f"coditect-backend-{i:05d}" for i in range(4)]
        await pilot.click(ResourceTable, offset=(30, 1))
        assert table.shown_rows[0].cells[1] == "coditect-backend-00003", "a second click reverses"


async def test_filter_narrows_ten_thousand_rows_and_shows_n_of_m():
    table = ResourceTable(COLUMNS)
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows(rows(10_000))
        await pilot.pause()
        assert str(table.border_subtitle) == "10000"
        started = time.perf_counter()
        table.set_filter("BACKEND-0999")
        print(f"\nfilter over 10,000 rows: {(time.perf_counter() - started) * 1000:.1f} ms")
        await pilot.pause()
        assert len(table.shown_rows) == 10
        assert str(table.border_subtitle).endswith("10/10000")
        assert table.cursor_key == "kube-system/coditect-backend-09990"
        table.set_filter("crashloop")  # a Text cell matches by its text
        assert len(table.shown_rows) == 1000
        table.set_filter("no-such-pod")
        await pilot.pause()
        assert len(table.shown_rows) == 0 and table.cursor_key is None
        assert "No resources match “no-such-pod”" in text_of(table, 1)
        table.set_filter("")
        assert len(table.shown_rows) == 10_000
        assert str(table.border_subtitle) == "10000"


async def test_setting_ten_thousand_rows_is_cheap_and_draws_only_visible_lines():
    table = CountingTable(COLUMNS, sort="name")
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        many = rows(10_000)
        random.Random(7).shuffle(many)
        started = time.perf_counter()
        table.set_rows(many)
        elapsed = time.perf_counter() - started
        print(f"\nset_rows of 10,000 shuffled rows, sorted by name: {elapsed * 1000:.1f} ms")
        table.lines_asked = table.rows_drawn = 0
        await pilot.pause()
        assert 0 < table.lines_asked <= VISIBLE_ROWS + 1
        assert table.rows_drawn <= VISIBLE_ROWS + 1
        table.rows_drawn = 0
        table.set_rows(list(many))  # the same Row objects: cached lines are reused
        await pilot.pause()
        assert table.rows_drawn <= 2, "only the header and the cursor line are drawn again"


async def test_cursor_stays_on_its_pod_when_an_update_reorders_rows():
    table = ResourceTable(COLUMNS)
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        first = rows(100)
        table.set_rows(first)
        await pilot.pause()
        assert table.move_cursor_to("coditect-staging/coditect-backend-00051")
        await pilot.pause()
        table.set_rows([row(1000), *reversed(first)])
        await pilot.pause()
        assert table.cursor_key == "coditect-staging/coditect-backend-00051"
        assert text_of(table, 1 + 49 - round(table.scroll_y)).split()[1] == "coditect-backend-00051"
        gone = [r for r in first if r.key != "coditect-staging/coditect-backend-00051"]
        table.set_rows(gone)
        await pilot.pause()
        assert table.cursor_key == gone[49].key, "a vanished row leaves the cursor at the same position"


async def test_no_rows_and_notices_are_one_clear_line():
    table = ResourceTable(COLUMNS, empty_text="No resources")
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows([])
        await pilot.pause()
        assert "NAMESPACE" in text_of(table, 0)
        assert text_of(table, 1).strip() == "No resources"
        await pilot.press("down", "enter")
        assert table.cursor_key is None and not app.seen
        table.set_notice("could not list pods: forbidden")
        await pilot.pause()
        assert text_of(table, 0).strip() == "could not list pods: forbidden"
        assert text_of(table, 1).strip() == ""


async def test_highlight_messages_of_one_table_coalesce():
    table = ResourceTable(COLUMNS)
    other = ResourceTable(COLUMNS)
    newer = ResourceTable.RowHighlighted(table, "b")
    assert ResourceTable.RowHighlighted(table, "a").can_replace(newer)
    assert not ResourceTable.RowHighlighted(other, "a").can_replace(newer)
    assert not ResourceTable.RowSelected(table, "a").can_replace(ResourceTable.RowSelected(table, "b"))


def order_after_full_sort(table: ResourceTable, all_rows: list[Row]) -> list[str]:
    """What a fresh table given the same rows, sort and filter would show: the reference for `update`."""
    fresh = ResourceTable(COLUMNS, sort=table.sort_column)
    fresh._reverse = table._reverse
    fresh.set_rows(all_rows)
    fresh._filter = table._filter
    fresh._refilter(None)
    return [r.key for r in fresh.shown_rows]


async def test_updates_move_only_changed_rows_and_match_a_full_sort():
    table = ResourceTable(COLUMNS, sort="restarts")
    app = TableApp(table)
    rng = random.Random(11)
    async with app.run_test(size=SIZE) as pilot:
        current = {r.key: r for r in rows(2000)}
        table.set_rows(list(current.values()))
        await pilot.pause()
        for step in range(60):
            if step == 20:
                table.set_filter("staging")
            if step == 40:
                table.sort_by("restarts", reverse=True)
            changed = [row(rng.randrange(2500), restarts=rng.randrange(9)) for _ in range(15)]
            gone = rng.sample(sorted(current), 5)
            for r in changed:
                current[r.key] = r
            for k in gone:
                current.pop(k, None)
            table.update(changed, [k for k in gone if k not in {r.key for r in changed}])
            for r in changed:
                if r.key in gone:
                    current[r.key] = r
            assert [r.key for r in table.shown_rows] == order_after_full_sort(table, list(current.values()))
            assert table.row_count == len(current)
        await pilot.pause()
        assert str(table.border_subtitle) == f"/staging {len(table.shown_rows)}/{len(current)}"


async def test_the_cursor_keeps_its_row_while_updates_insert_above_it():
    table = ResourceTable(COLUMNS, sort="name")
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows([row(i) for i in range(100, 200)])
        assert table.move_cursor_to(key(150))
        table.update([row(i) for i in range(10)], [key(101)])
        await pilot.pause()
        assert table.cursor_key == key(150)
        assert table.shown_rows[0].key == key(0) and key(101) not in {r.key for r in table.shown_rows}
        table.update([], [key(150)])
        assert table.cursor_key == key(151), "a removed cursor row leaves the cursor on the row now in its place"


async def test_an_update_below_the_screen_draws_nothing_and_one_in_place_draws_its_line():
    table = CountingTable(COLUMNS, sort="name")
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows(rows(5000))
        await pilot.pause()
        table.rows_drawn = 0
        table.update([row(4000, restarts=3), row(4500)], [key(4999)])  # far below the visible rows
        await pilot.pause()
        assert table.rows_drawn <= 2, "at most the header and the cursor line, which are never cached"
        table.rows_drawn = 0
        table.update([row(5, restarts=6)])  # sorted by name: it stays where it is
        await pilot.pause()
        assert table.rows_drawn <= 3, "its line, and at most the header and the cursor line"
        assert text_of(table, 1 + 5).split()[-1] == "6"
        table.lines_asked = 0
        table.update([row(5001)], [key(3)])  # rows on screen move up: every line below is asked for again
        await pilot.pause()
        assert table.lines_asked >= VISIBLE_ROWS - 3
        assert text_of(table, 1 + 3).split()[1] == "coditect-backend-00004"


async def test_live_cells_follow_the_clock_on_visible_lines_only():
    now = [1000.0]
    calls: list[int] = []

    def since(i: int) -> Any:
        def cell(t: float) -> str:
            calls.append(i)
            return f"{int(t - i)}s"

        return cell

    table = ResourceTable(COLUMNS, sort="name", clock=lambda: now[0])
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_rows(
            [Row(key(i), ("ns", f"pod-{i:05d}", "Running", since(i)), ("ns", i, "", i)) for i in range(3000)]
        )
        await pilot.pause()
        assert text_of(table, 2).split()[-1] == "999s"
        calls.clear()
        now[0] += 5
        table.refresh()
        await pilot.pause()
        assert text_of(table, 2).split()[-1] == "1004s"
        assert len(set(calls)) <= VISIBLE_ROWS + 1, "only the rows on screen work out their live cells"
