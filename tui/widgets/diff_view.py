"""A unified diff, coloured, with the new file's line numbers in a gutter that stays put while scrolling sideways.

Drawn with the line API (one `Strip` per visible line, cached), so a 2,000-line diff
scrolls as smoothly as a 20-line one. Our own widget: no AGPL diff viewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

LineKind = Literal["header", "hunk", "added", "removed", "context", "note"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

STYLES: dict[LineKind, Style] = {
    "header": Style(bold=True),
    "hunk": Style(color="cyan"),
    "added": Style(color="green"),
    "removed": Style(color="red"),
    "context": Style(dim=True),
    "note": Style(dim=True, italic=True),
}
GUTTER_STYLE = Style(dim=True)


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a unified diff: what it is, its text, and its line number in the new file (if it has one)."""

    kind: LineKind
    text: str
    new_number: int | None = None


def parse_diff(diff: str) -> list[DiffLine]:
    """Classify every line of a unified diff.

    Hunk headers' counts tell where a hunk ends, so a removed line that reads `--- x`
    inside a hunk is a removal, not a file header.
    """
    out: list[DiffLine] = []
    old_left = new_left = new_no = 0
    for raw in diff.splitlines():
        line = _CONTROL.sub("\ufffd", raw.expandtabs(4))
        if line.startswith("\\"):
            out.append(DiffLine("note", line))
        elif old_left > 0 or new_left > 0:
            if line.startswith("+"):
                out.append(DiffLine("added", line, new_no))
                new_no, new_left = new_no + 1, new_left - 1
            elif line.startswith("-"):
                out.append(DiffLine("removed", line))
                old_left -= 1
            else:  # context; an empty line here is a context line whose leading space was stripped
                out.append(DiffLine("context", line, new_no))
                new_no, old_left, new_left = new_no + 1, old_left - 1, new_left - 1
        elif m := _HUNK.match(line):
            old_left = int(m[2]) if m[2] is not None else 1
            new_left = int(m[4]) if m[4] is not None else 1
            new_no = int(m[3])
            out.append(DiffLine("hunk", line))
        else:
            out.append(DiffLine("header", line))
    return out


class DiffView(ScrollView, can_focus=True):
    """Shows one unified diff; `show(diff)` replaces it."""

    DEFAULT_CSS = """
    DiffView { background: $surface; overflow-x: auto; overflow-y: auto; }
    DiffView:focus { background-tint: $foreground 3%; }
    """

    def __init__(self, diff: str = "", *, name: str | None = None, id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self._lines: list[DiffLine] = []
        self._gutter_width = 0
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._diff = ""
        self.show(diff)

    @property
    def lines(self) -> list[DiffLine]:
        """The parsed lines on display (read-only)."""
        return list(self._lines)

    @property
    def diff(self) -> str:
        return self._diff

    def show(self, diff: str) -> None:
        """Display `diff` from its first line; an empty diff says so."""
        self._diff = diff
        self._lines = parse_diff(diff) if diff.strip() else [DiffLine("note", "(no changes)")]
        last = max((ln.new_number or 0 for ln in self._lines), default=0)
        self._gutter_width = len(str(last)) + 3 if last else 0  # "123 │ "
        widest = max((cell_len(ln.text) for ln in self._lines), default=0)
        self._cache.clear()
        self.virtual_size = Size(self._gutter_width + widest, len(self._lines))
        if self.is_mounted:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        key = (index, scroll_x)
        strip = self._cache.get(key)
        if strip is None or strip.cell_length != width:
            strip = self._strip(self._lines[index], scroll_x, width, base)
            self._cache[key] = strip
        return strip.apply_offsets(scroll_x, index)

    def _strip(self, line: DiffLine, scroll_x: int, width: int, base: Style) -> Strip:
        gutter_w = min(self._gutter_width, width)
        parts: list[Strip] = []
        if gutter_w:
            number = "" if line.new_number is None else str(line.new_number)
            label = f"{number:>{self._gutter_width - 3}} │ "
            parts.append(Strip([Segment(label, base + GUTTER_STYLE)], cell_len(label)).crop_extend(0, gutter_w, base))
        body = Strip([Segment(line.text, base + STYLES[line.kind])], cell_len(line.text))
        parts.append(body.crop_extend(scroll_x, scroll_x + width - gutter_w, base))
        return Strip.join(parts)
