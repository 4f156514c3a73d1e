"""ResourceTable: a k9s-like table of thousands of rows, drawn line by line (`render_line`): only visible lines.

Rows are kept sorted as they come: `update` moves only the rows that changed (a bisect
each), so a stream of watch events never re-sorts 10,000 rows. A cell may be *live*, a
function of the time (AGE, "3 (2m ago)"): it is worked out when its line is drawn, so
only the visible rows pay for a clock that changes every row every second. A row's strip
is cached under its key and width while the caller passes the *same* `Row` object again
(and its live cells read the same).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text
Live = Callable[[float], Cell]  # a cell worked out from the time (seconds since the epoch) when drawn
AnyCell = Cell | Live


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int | None = None  # None: grows to fit its cells as room allows; 0: as wide as its label
    align: Literal["left", "right"] = "left"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[AnyCell, ...]
    sort_keys: tuple[Any, ...] = ()  # one per column, all of one type per column; () sorts by the cell text


def _plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell.plain


def _fit(text: str, width: int, align: str) -> str:
    """`text` padded or cut to `width` cells; left-aligned text loses its middle, which keeps the pod hash suffix."""
    length = cell_len(text)
    if length > width:
        tail = (width - 1) // 2 if align == "left" else 0
        return set_cell_size(text, width - 1 - tail) + "…" + set_cell_size(text[-tail:] if tail else "", tail)
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


class _Sorted:
    """Rows ascending by their sort keys, with the keys alongside for bisecting."""

    __slots__ = ("keys", "rows")

    def __init__(self, pairs: Sequence[tuple[tuple[Any, ...], Row]] = ()) -> None:
        self.keys = [k for k, _ in pairs]
        self.rows = [r for _, r in pairs]

    def __len__(self) -> int:
        return len(self.rows)

    def insert(self, key: tuple[Any, ...], row: Row) -> int:
        at = bisect_left(self.keys, key)
        self.keys.insert(at, key)
        self.rows.insert(at, row)
        return at

    def remove(self, key: tuple[Any, ...], row_key: str) -> int:
        """Take out the row `row_key` sorted under `key`; its position then, or -1 if it is not here."""
        at = bisect_left(self.keys, key)
        if not (at < len(self.rows) and self.rows[at].key == row_key):  # a live cell's text moved: the slow way
            at = next((j for j, r in enumerate(self.rows) if r.key == row_key), -1)
        if at >= 0:
            del self.keys[at], self.rows[at]
        return at

    def find(self, key: tuple[Any, ...], row_key: str) -> int | None:
        at = bisect_left(self.keys, key)
        return at if at < len(self.rows) and self.rows[at].key == row_key else None

    def only(self, keep: Callable[[Row], bool]) -> _Sorted:
        """The rows `keep` accepts, still in order: no sorting needed."""
        out = _Sorted()
        out.keys = [k for k, r in zip(self.keys, self.rows, strict=True) if keep(r)]
        out.rows = [r for r in self.rows if keep(r)]
        return out


class _RowMessage(Message):
    def __init__(self, table: ResourceTable, key: str) -> None:
        super().__init__()
        self.table, self.key = table, key

    @property
    def control(self) -> ResourceTable:
        return self.table


class ResourceTable(ScrollView, can_focus=True):
    """A sortable, filterable table with a row cursor and a header pinned above the rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
        Binding("less_than_sign", "sort_column(-1)", "Sort ←"),
        Binding("greater_than_sign", "sort_column(1)", "Sort →"),
        Binding("exclamation_mark", "reverse_sort", "Reverse"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {f"resource-table--{c}" for c in ("header", "cursor", "empty", "notice")}
    DEFAULT_CSS = """
    ResourceTable {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        border: round $panel-lighten-2;
        border-subtitle-align: right;
        & > .resource-table--header { text-style: bold; color: $text-accent; }
        & > .resource-table--cursor { background: $block-cursor-blurred-background; }
        & > .resource-table--empty { color: $text-muted; }
        & > .resource-table--notice { color: $text-warning; text-style: bold; }
        &:focus { border: round $accent; }
        &:focus > .resource-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    class RowHighlighted(_RowMessage):
        """The cursor moved onto the row `key`; a newer one replaces it while both wait in the queue."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResourceTable.RowHighlighted) and message.table is self.table

    class RowSelected(_RowMessage):
        """The row `key` was opened (enter, or a click on the highlighted row)."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort: str | None = None,
        empty_text: str = "No resources",
        clock: Callable[[], float] = time.time,
        tick: float | None = None,
        **options: Any,
    ) -> None:
        """`sort` names the column sorted by at first (None: as given); `clock` feeds live cells, redrawn every
        `tick` seconds (None: only when rows change); `options` are the widget's id, classes…"""
        super().__init__(**options)
        self.columns = tuple(columns)
        self.empty_text = empty_text
        self.clock = clock
        self._tick = tick
        self._sort: int | None = next((i for i, c in enumerate(self.columns) if c.key == sort), None)
        self._reverse = False
        self._text_sort = False  # a column whose sort keys do not compare: sorted by its text instead
        self._rows: dict[str, Row] = {}  # every row by key, in the order first given
        self._seq: dict[str, int] = {}  # the order first given: the sort when no column is chosen
        self._next_seq = 0
        self._all = _Sorted()  # every row, ascending by `_sort_key`
        self._view = self._all  # the rows shown: `_all` filtered (shown backwards when reversed)
        self._dirty = False  # an update moved rows on screen: the whole table is drawn again
        self._cursor = 0
        self._highlighted: str | None = None
        self._filter = ""
        self._haystacks: dict[str, tuple[Row, str]] = {}
        self._notice: str | None = None
        self._strips: LRUCache[tuple[str, int], tuple[Row, tuple[str, ...], Strip]] = LRUCache(1024)
        self._layouts: dict[int, list[tuple[int, int]]] = {}  # width -> (x, width) per column
        self._flexible = [i for i, c in enumerate(self.columns) if c.width is None]
        self._lengths: dict[int, Counter[int]] = {i: Counter() for i in self._flexible}
        self._needs = [0] * len(self.columns)  # the widest cell of each flexible column

    def on_mount(self) -> None:
        if self._tick:
            self.set_interval(self._tick, self.refresh)  # live cells (AGE) move on without any row changing

    @property
    def cursor_key(self) -> str | None:
        return self._at(self._cursor).key if self._view.rows else None

    @property
    def shown_rows(self) -> Sequence[Row]:
        """The rows as displayed: filtered and sorted."""
        return tuple(reversed(self._view.rows)) if self._reverse else tuple(self._view.rows)

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def sort_column(self) -> str | None:
        return None if self._sort is None else self.columns[self._sort].key

    # --- rows in -------------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace every row; the cursor stays on its row key when that row is still there."""
        self._rows, self._notice = {r.key: r for r in rows}, None
        self._seq = {key: i for i, key in enumerate(self._rows)}
        self._next_seq = len(self._seq)
        now = self.clock()
        for i, lengths in self._lengths.items():
            lengths.clear()
            lengths.update(len(_text(r.cells[i], now)) for r in self._rows.values())
        self._fit_columns()
        self._rebuild()

    def update(self, rows: Iterable[Row] = (), removed: Iterable[str] = ()) -> None:
        """Add or replace `rows` and drop the rows keyed `removed`, moving only those: cheap for a few of many."""
        if self._notice is not None:
            self._notice, self._rows, self._seq = None, {}, {}
            self._rebuild()
        keep = self.cursor_key
        now = self.clock()
        changed = False
        try:
            for key in removed:
                old = self._rows.get(key)
                if old is not None:
                    self._shifted(self._forget(old, now))
                    del self._rows[key], self._seq[key]
                    changed = True
            for row in rows:
                old = self._rows.get(row.key)
                if old is row:
                    continue
                at = self._forget(old, now) if old is not None else None
                if old is None:
                    self._seq[row.key], self._next_seq = self._next_seq, self._next_seq + 1
                self._rows[row.key] = row
                for i, lengths in self._lengths.items():
                    lengths[len(_text(row.cells[i], now))] += 1
                k = self._sort_key(row)
                placed = self._all.insert(k, row)
                if self._view is not self._all and self._matches(row):
                    placed = self._view.insert(k, row)
                elif self._view is not self._all:
                    placed = -1
                if at is None or at != placed:  # rows moved: every line below may show another row
                    self._shifted(min((p for p in (at, placed) if p is not None and p >= 0), default=-1))
                elif placed >= 0:
                    self._changed_line(placed)
                changed = True
        except TypeError:  # sort keys of mixed types met: sort that column by its text from now on
            self._text_sort = True
            self._rebuild()
            return
        if changed:
            self._fit_columns()
            self._settle(keep, redraw=self._dirty)

    def _forget(self, row: Row, now: float) -> int:
        """Take `row` out of the rows and the column widths; where it was shown (-1: filtered out)."""
        for i, lengths in self._lengths.items():
            n = len(_text(row.cells[i], now))
            if lengths[n] <= 1:
                lengths.pop(n, None)
            else:
                lengths[n] -= 1
        k = self._sort_key(row)
        at = self._all.remove(k, row.key)
        if self._view is not self._all:
            at = self._view.remove(k, row.key) if self._matches(row) else -1
        return at

    def _shifted(self, at: int) -> None:
        """Rows from position `at` on moved (-1: nothing shown moved); redraw if that reaches the screen."""
        if at < 0:
            return
        if self._reverse or at <= round(self.scroll_y) + self._page:
            self._dirty = True

    def _changed_line(self, at: int) -> None:
        """The row at position `at` changed in place: only its line is drawn again."""
        index = len(self._view) - 1 - at if self._reverse else at
        self.refresh_line(index + 1)

    def _fit_columns(self) -> None:
        needs = [max(self._lengths[i], default=0) if i in self._lengths else 0 for i in range(len(self.columns))]
        if needs != self._needs:  # flexible columns fit their widest cell: cached lines have the old layout
            self._needs = needs
            self._layouts.clear()
            self._strips.clear()

    def set_filter(self, text: str) -> None:
        """Show only rows with `text` (case-insensitive) in some cell; "" shows all."""
        self._filter = text.strip().lower()
        self._refilter(self.cursor_key)

    def set_notice(self, text: str | None) -> None:
        """Show one line (`could not list pods: forbidden`) in place of the table; None brings the table back."""
        self._notice = text
        if text is not None:
            self._rows, self._seq = {}, {}
        self._rebuild()

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        sort = next((i for i, c in enumerate(self.columns) if c.key == column), None)
        if sort != self._sort:  # the sort arrow moves to another column: its room too
            self._layouts.clear()
            self._strips.clear()
            self._text_sort = False
        self._sort, self._reverse = sort, reverse
        self._rebuild()

    def move_cursor_to(self, key: str) -> bool:
        """Put the cursor on the row `key`; False when no such row is shown."""
        index = self._index(key)
        if index is not None:
            self._move(index)
        return index is not None

    # --- the view ------------------------------------------------------------------------------

    def _sort_key(self, row: Row) -> tuple[Any, ...]:
        i = self._sort
        if i is None:
            return (self._seq.get(row.key, 0), row.key)
        if row.sort_keys and not self._text_sort:
            return (row.sort_keys[i], row.key)
        return (_plain(_text(row.cells[i], 0.0)), row.key)

    def _matches(self, row: Row) -> bool:
        return not self._filter or self._filter in self._haystack(row)

    def _haystack(self, row: Row) -> str:
        cached = self._haystacks.get(row.key)
        if cached is not None and cached[0] is row:
            return cached[1]
        hay = "\0".join(str(c) for c in row.cells if not callable(c)).lower()  # str() of a Text is its text
        self._haystacks[row.key] = (row, hay)
        return hay

    def _at(self, index: int) -> Row:
        """The row shown at `index` (0 is the first line under the header)."""
        return self._view.rows[-1 - index] if self._reverse else self._view.rows[index]

    def _index(self, key: str) -> int | None:
        """Where the row `key` is shown, or None."""
        row = self._rows.get(key)
        if row is None:
            return None
        at = self._view.find(self._sort_key(row), key)
        if at is None:
            return None
        return len(self._view) - 1 - at if self._reverse else at

    def _rebuild(self) -> None:
        """Sort every row again (new rows, another sort column) and filter."""
        keep = self.cursor_key
        try:
            self._all = _Sorted(sorted((self._sort_key(r), r) for r in self._rows.values()))
        except TypeError:  # mixed types in one column: fall back to the text
            self._text_sort = True
            self._all = _Sorted(sorted((self._sort_key(r), r) for r in self._rows.values()))
        self._view = self._all
        self._refilter(keep)

    def _refilter(self, keep: str | None) -> None:
        """The view from the sorted rows for the current filter: no sorting."""
        if self._filter:
            self._view = self._all.only(self._matches)
            if len(self._haystacks) > 2 * len(self._rows) + 1024:  # forget rows that are gone
                self._haystacks = {k: v for k, v in self._haystacks.items() if k in self._rows}
        else:
            self._view = self._all
        self._settle(keep)

    def _settle(self, keep: str | None, redraw: bool = True) -> None:
        """After the view changed: the cursor back on `keep` (or at the same place), sizes, a repaint."""
        found = self._index(keep) if keep is not None else None
        if found is not None and found != self._cursor:
            redraw = True
        self._cursor = max(0, min(self._cursor if found is None else found, len(self._view) - 1))
        shown = f"/{self._filter} {len(self._view)}/{len(self._rows)}" if self._filter else str(len(self._rows))
        if str(self.border_subtitle) != shown:
            self.border_subtitle = Text(shown)
        self.virtual_size = Size(0, 1 if self._notice is not None else len(self._view) + 1)
        self._scroll_to_cursor()
        if redraw:
            self.refresh()
        self._dirty = False
        self._announce()

    def _announce(self) -> None:
        key = self.cursor_key
        if key is not None and key != self._highlighted:
            self.post_message(self.RowHighlighted(self, key))
        self._highlighted = key

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move(self, index: int) -> None:
        if not self._view.rows:
            return
        old, self._cursor = self._cursor, max(0, min(index, len(self._view) - 1))
        self.refresh_line(old + 1)  # a virtual coordinate: refresh_line takes the scroll off
        self.refresh_line(self._cursor + 1)
        self._scroll_to_cursor()
        self._announce()

    def _scroll_to_cursor(self) -> None:
        if self.is_mounted and self.scrollable_content_region.height:
            top = round(self.scroll_y)
            if (y := min(max(top, self._cursor - self._page + 1), self._cursor)) != top:
                self.scroll_to(y=y, animate=False)

    # --- keys and mouse ------------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self._move(self._cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self._cursor + direction * self._page)

    def action_cursor_to(self, index: int) -> None:
        self._move(index if index >= 0 else len(self._view) - 1)

    def action_select(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(self.RowSelected(self, key))

    def action_sort_column(self, step: int) -> None:
        current = self._sort if self._sort is not None else (-1 if step > 0 else len(self.columns))
        self.sort_by(self.columns[(current + step) % len(self.columns)].key, self._reverse)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self._reverse)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self._notice is not None:
            return
        if offset.y == 0:
            for i, (x, width) in enumerate(self._layout(self.scrollable_content_region.width)):
                if x <= offset.x <= x + width:  # a second click on the sort column reverses it
                    self.sort_by(self.columns[i].key, not self._reverse if i == self._sort else False)
                    return
            return
        index = round(self.scroll_y) + offset.y - 1
        if index == self._cursor:
            self.action_select()
        elif index < len(self._view):
            self._move(index)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # colours come from the theme: cached rows are stale

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    # --- drawing -------------------------------------------------------------------------------

    def _layout(self, width: int) -> list[tuple[int, int]]:
        """(x, width) per column: flexible ones share the room fairly (short cells fit, long ones split the rest)."""
        layout = self._layouts.get(width)
        if layout is None:
            widths = [max(c.width or 1, len(c.label) + 2 * (i == self._sort)) for i, c in enumerate(self.columns)]
            spare = width - 1 - len(self.columns) - sum(widths)
            flexible = self._flexible
            deficits = sorted((self._needs[i] - widths[i], i) for i in flexible[:-1])
            for k, (deficit, i) in enumerate(deficits):  # smallest first: each takes at most an equal share
                grow = max(0, min(deficit, spare // (len(deficits) - k)))
                widths[i], spare = widths[i] + grow, spare - grow
            if flexible and spare > 0:  # the last flexible column gets what the others leave
                widths[flexible[-1]] += spare
            layout = list(zip(accumulate([1] + [w + 1 for w in widths[:-1]]), widths, strict=True))  # one space apart
            self._layouts[width] = layout
        return layout

    def _line(self, cells: Sequence[Cell], width: int, base: Style) -> Strip:
        segments = [Segment(" ", base)]
        for (_, w), cell, column in zip(self._layout(width), cells, self.columns, strict=False):
            if isinstance(cell, str):
                segments.append(Segment(_fit(cell, w, column.align), base))
            else:
                text = cell.copy()
                text.truncate(w, overflow="ellipsis")
                pad = Segment(" " * (w - text.cell_len), base)
                style = base + self.app.console.get_style(text.style) if text.style else base  # render() drops it
                rendered = Segment.apply_style(text.render(self.app.console), style)
                segments.extend([pad, *rendered] if column.align == "right" else [*rendered, pad])
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    def _message(self, text: str, component: str, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style(f"resource-table--{component}")
        return Strip([Segment(" " + text, style)]).adjust_cell_length(width, base)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if self._notice is not None:
            return self._message(self._notice, "notice", width, base) if y == 0 else Strip.blank(width, base)
        if y == 0:
            arrow = " ▼" if self._reverse else " ▲"
            labels = [c.label + (arrow if i == self._sort else "") for i, c in enumerate(self.columns)]
            return self._line(labels, width, base + self.get_component_rich_style("resource-table--header"))
        index = round(self.scroll_y) + y - 1
        if not self._view.rows and index == 0:
            empty = f"{self.empty_text} match “{self._filter}”" if self._filter and self._rows else self.empty_text
            return self._message(empty, "empty", width, base)
        if index >= len(self._view):
            return Strip.blank(width, base)
        row = self._at(index)
        now = self.clock()
        cells = tuple(c(now) if callable(c) else c for c in row.cells)
        if index == self._cursor:  # never cached: its look depends on focus
            return self._line(cells, width, base + self.get_component_rich_style("resource-table--cursor"))
        live = tuple(_plain(c) for c, given in zip(cells, row.cells, strict=True) if callable(given))
        cached = self._strips.get((row.key, width))
        if cached is not None and cached[0] is row and cached[1] == live:
            return cached[2]
        strip = self._line(cells, width, base)
        self._strips[(row.key, width)] = (row, live, strip)
        return strip


def _text(cell: AnyCell, now: float) -> str:
    return _plain(cell(now) if callable(cell) else cell)
