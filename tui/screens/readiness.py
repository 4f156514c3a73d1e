"""`R`: the readiness verdict of each namespace, its blockers and warnings; enter on one with a fix reviews it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from diagnostics.findings import Finding

VERDICT_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold green"}
MARK = {"error": ("✗ ", "red"), "warning": ("! ", "yellow"), "info": ("· ", "dim")}


class ReadinessScreen(ModalScreen[Finding | None]):
    """Dismisses with the finding to review (enter on a blocker that has a fix), or None."""

    DEFAULT_CSS = """
    ReadinessScreen { align: center middle; }
    ReadinessScreen > Vertical {
        width: 90%; height: auto; max-height: 85%; border: thick $accent; background: $surface; padding: 0 1;
    }
    ReadinessScreen OptionList { height: auto; max-height: 30; }
    ReadinessScreen #readiness-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("q", "dismiss(None)", "Close", show=False)]

    def __init__(self, findings: Sequence[Finding], problem: str | None = None) -> None:
        super().__init__()
        self.verdicts = [f for f in findings if f.playbook == "readiness" and f.cause == "verdict"]
        self.by_id = {f.id: f for f in findings}
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Deploy readiness", style="bold"))
            if self.problem is not None:
                yield Static(
                    Text(f"Could not give a verdict: {self.problem}", style="bold yellow"), id="readiness-problem"
                )
            options: list[Option] = []
            for v in sorted(self.verdicts, key=lambda f: f.object.name):
                options.append(Option(Text(v.title, style=VERDICT_STYLE[v.severity]), id=f"verdict:{v.id}"))
                for fid in v.related:
                    f = self.by_id.get(fid)
                    if f is None:
                        continue
                    mark, style = MARK[f.severity]
                    way = "enter: review the fix" if f.fixes else "no automatic fix"
                    line = Text.assemble("   ", (mark, style), f"{f.title}  ", (f"{f.object}  ", "cyan"), (way, "dim"))
                    options.append(Option(line, id=fid))
            if options:
                yield OptionList(*options)
            yield Static("enter on a blocker reviews its fix · escape closes", id="readiness-hint")

    @property
    def lines(self) -> list[str]:
        """The options as plain text (tests, screenshots)."""
        found = self.query(OptionList)
        if not found:
            return []
        olist = found.first()
        return [str(olist.get_option_at_index(i).prompt) for i in range(olist.option_count)]

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        finding = self.by_id.get(event.option.id or "")
        if finding is None:
            return
        if not finding.fixes:
            self.notify(finding.explanation, title=finding.title, timeout=10)
            return
        self.dismiss(finding)
