"""ResourceTable: a k9s-like table of thousands of rows, drawn line by line (`render_line`): only visible lines.

A row's strip is cached under its key and width while the caller passes the *same* `Row` object again.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int | None = None  # None: grows to fit its cells as room allows; 0: as wide as its label
    align: Literal["left", "right"] = "left"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[Cell, ...]
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
        self, columns: Sequence[Column], *, sort: str | None = None, empty_text: str = "No resources", **options: Any
    ) -> None:
        """`sort` names the column sorted by at first (None: as given); `options` are the widget's id, classes…"""
        super().__init__(**options)
        self.columns = tuple(columns)
        self.empty_text = empty_text
        self._sort: int | None = next((i for i, c in enumerate(self.columns) if c.key == sort), None)
        self._reverse = False
        self._rows: list[Row] = []  # as given
        self._view: list[Row] = []  # as shown: filtered and sorted
        self._positions: dict[str, int] | None = None
        self._cursor = 0
        self._highlighted: str | None = None
        self._filter = ""
        self._haystacks: dict[str, tuple[Row, str]] = {}
        self._notice: str | None = None
        self._strips: LRUCache[tuple[str, int], tuple[Row, Strip]] = LRUCache(1024)
        self._layouts: dict[int, list[tuple[int, int]]] = {}  # width -> (x, width) per column
        self._needs = [0] * len(self.columns)  # the widest cell of each flexible column

    @property
    def cursor_key(self) -> str | None:
        return self._view[self._cursor].key if self._view else None

    @property
    def shown_rows(self) -> Sequence[Row]:
        """The rows as displayed: filtered and sorted."""
        return tuple(self._view)

    @property
    def sort_column(self) -> str | None:
        return None if self._sort is None else self.columns[self._sort].key

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row; the cursor stays on its row key when that row is still there."""
        self._rows, self._notice = list(rows), None
        needs = [
            max(map(len, map(str, [r.cells[i] for r in self._rows])), default=0) if c.width is None else 0
            for i, c in enumerate(self.columns)
        ]
        if needs != self._needs:  # flexible columns fit their widest cell: cached lines have the old layout
            self._needs = needs
            self._layouts.clear()
            self._strips.clear()
        self._rebuild()

    def set_filter(self, text: str) -> None:
        """Show only rows with `text` (case-insensitive) in some cell; "" shows all."""
        self._filter = text.strip().lower()
        self._rebuild()

    def set_notice(self, text: str | None) -> None:
        """Show one line (`could not list pods: forbidden`) in place of the table; None brings the table back."""
        self._notice, self._rows = text, [] if text is not None else self._rows
        self._rebuild()

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        sort = next((i for i, c in enumerate(self.columns) if c.key == column), None)
        if sort != self._sort:  # the sort arrow moves to another column: its room too
            self._layouts.clear()
            self._strips.clear()
        self._sort, self._reverse = sort, reverse
        self._rebuild()

    def move_cursor_to(self, key: str) -> bool:
        """Put the cursor on the row `key`; False when no such row is shown."""
        index = self._position(key)
        if index is not None:
            self._move(index)
        return index is not None

    def _haystack(self, row: Row) -> str:
        cached = self._haystacks.get(row.key)
        if cached is not None and cached[0] is row:
            return cached[1]
        hay = "\0".join(map(str, row.cells)).lower()  # str() of a Text is its plain text
        self._haystacks[row.key] = (row, hay)
        return hay

    def _rebuild(self) -> None:
        keep = self.cursor_key
        view = self._rows
        if self._filter:
            needle, hay = self._filter, self._haystack
            view = [r for r in view if needle in hay(r)]
            if len(self._haystacks) > 2 * len(self._rows) + 1024:  # forget rows that are gone
                self._haystacks = {r.key: self._haystacks[r.key] for r in self._rows if r.key in self._haystacks}
        if self._sort is not None:
            i, reverse = self._sort, self._reverse
            try:
                view = sorted(
                    view, key=lambda r: r.sort_keys[i] if r.sort_keys else _plain(r.cells[i]), reverse=reverse
                )
            except TypeError:  # mixed types in one column: fall back to the text
                view = sorted(view, key=lambda r: _plain(r.cells[i]), reverse=reverse)
        self._view, self._positions = view, None
        found = self._position(keep) if keep is not None else None
        self._cursor = max(0, min(self._cursor if found is None else found, len(view) - 1))
        shown = f"/{self._filter} {len(view)}/{len(self._rows)}" if self._filter else str(len(self._rows))
        self.border_subtitle = Text(shown)
        self.virtual_size = Size(0, 1 if self._notice is not None else len(view) + 1)
        self._scroll_to_cursor()
        self.refresh()
        self._announce()

    def _position(self, key: str) -> int | None:
        if self._positions is None:
            self._positions = {r.key: i for i, r in enumerate(self._view)}
        return self._positions.get(key)

    def _announce(self) -> None:
        key = self.cursor_key
        if key is not None and key != self._highlighted:
            self.post_message(self.RowHighlighted(self, key))
        self._highlighted = key

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move(self, index: int) -> None:
        if not self._view:
            return
        old, self._cursor = self._cursor, max(0, min(index, len(self._view) - 1))
        self.refresh_line(old + 1)
        self.refresh_line(self._cursor + 1)
        self._scroll_to_cursor()
        self._announce()

    def _scroll_to_cursor(self) -> None:
        if self.is_mounted and self.scrollable_content_region.height:
            top = round(self.scroll_y)
            if (y := min(max(top, self._cursor - self._page + 1), self._cursor)) != top:
                self.scroll_to(y=y, animate=False)

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

    def _layout(self, width: int) -> list[tuple[int, int]]:
        """(x, width) per column: flexible ones share the room fairly (short cells fit, long ones split the rest)."""
        layout = self._layouts.get(width)
        if layout is None:
            widths = [max(c.width or 1, len(c.label) + 2 * (i == self._sort)) for i, c in enumerate(self.columns)]
            spare = width - 1 - len(self.columns) - sum(widths)
            flexible = [i for i, c in enumerate(self.columns) if c.width is None]
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
        if not self._view and index == 0:
            empty = f"{self.empty_text} match “{self._filter}”" if self._filter and self._rows else self.empty_text
            return self._message(empty, "empty", width, base)
        if index >= len(self._view):
            return Strip.blank(width, base)
        row = self._view[index]
        if index == self._cursor:  # never cached: its look depends on focus
            return self._line(row.cells, width, base + self.get_component_rich_style("resource-table--cursor"))
        cached = self._strips.get((row.key, width))
        if cached is not None and cached[0] is row:
            return cached[1]
        strip = self._line(row.cells, width, base)
        self._strips[(row.key, width)] = (row, strip)
        return strip
