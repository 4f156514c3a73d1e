"""The findings, most severe first, each with its object, cause and how many fixes it offers."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from diagnostics.findings import Finding, sort_findings

_BADGE = {
    "error": ("ERR ", "bold white on red"),
    "warning": ("WARN", "bold black on yellow"),
    "info": ("INFO", "bold white on blue"),
}


def _prompt(f: Finding) -> Text:
    label, style = _BADGE[f.severity]
    t = Text()
    t.append(f" {label} ", style=style)
    t.append(f" {f.object}", style="bold")
    t.append(f"  {f.playbook}", style="dim")
    t.append(f"\n  {f.title}")
    if f.fixes:
        t.append(f"  [{len(f.fixes)} fix{'es' if len(f.fixes) > 1 else ''}]", style="green")
    return t


class FindingsPane(Static):
    """A list of findings; `enter` (or `d`) on one asks the app to open its diff review."""

    DEFAULT_CSS = """
    FindingsPane { height: 1fr; }
    FindingsPane OptionList { height: 1fr; border: none; }
    FindingsPane #findings-empty { color: $text-muted; padding: 1 2; }
    """

    class FindingChosen(Message):
        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._findings: list[Finding] = []
        self._status = "running playbooks…"

    def compose(self) -> ComposeResult:
        yield Static(self._status, id="findings-empty")
        yield OptionList(id="findings-list")

    def on_mount(self) -> None:
        self.border_title = "Findings"
        self.query_one(OptionList).display = False

    @property
    def findings(self) -> list[Finding]:
        return list(self._findings)

    def show(self, findings: Sequence[Finding], status: str = "") -> None:
        """Replace the list, keeping the highlighted finding when it is still there."""
        olist = self.query_one(OptionList)
        keep = self.highlighted.id if self.highlighted else None
        self._findings = sort_findings(list(findings))
        olist.clear_options()
        olist.add_options([Option(_prompt(f), id=f.id) for f in self._findings])
        empty = self.query_one("#findings-empty", Static)
        empty.update(status or "No findings: every playbook came back clean.")
        olist.display = bool(self._findings)
        empty.display = not self._findings
        if keep is not None:
            for i, f in enumerate(self._findings):
                if f.id == keep:
                    olist.highlighted = i
        self.border_subtitle = f"{len(self._findings)}"

    @property
    def highlighted(self) -> Finding | None:
        olist = self.query_one(OptionList)
        i = olist.highlighted
        return self._findings[i] if i is not None and 0 <= i < len(self._findings) else None

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._findings):
            self.post_message(self.FindingChosen(self._findings[event.option_index]))
