"""`p`: choose a playbook (or all) to run now."""

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

from playbooks.base import Playbook


class RunPlaybooks(ModalScreen[str | None]):
    """Dismisses with a playbook id, `all`, or None when closed."""

    DEFAULT_CSS = """
    RunPlaybooks { align: center middle; }
    RunPlaybooks > Vertical { width: 70; height: auto; max-height: 80%; border: thick $accent; background: $surface; }
    RunPlaybooks OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("q", "dismiss(None)", "Close", show=False)]

    def __init__(self, playbooks: Sequence[Playbook]) -> None:
        super().__init__()
        self.playbooks = list(playbooks)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Run playbooks", style="bold"))
            options = [Option(Text.assemble(("all", "bold"), "  every playbook"), id="all")]
            options += [Option(Text.assemble((pb.id, "bold"), f"  {pb.title}"), id=pb.id) for pb in self.playbooks]
            yield OptionList(*options)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
