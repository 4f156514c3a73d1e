"""Before a write that cannot be taken back (approving or rejecting a deployment): say what it does, ask y or n."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmAction(ModalScreen[bool]):
    """Dismisses with True on `y` or enter, False on `n` or escape.

    `question` is the one line asked ("Approve the deployment of Deploy staging #59 to staging?");
    `facts` are the lines under it naming what it acts on; `warning` says what cannot be undone.
    """

    DEFAULT_CSS = """
    ConfirmAction { align: center middle; }
    ConfirmAction > Vertical {
        width: 84; height: auto; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ConfirmAction #confirm-question { text-style: bold; margin-bottom: 1; }
    ConfirmAction #confirm-warning { color: $warning; margin-top: 1; }
    ConfirmAction #confirm-keys { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [
        Binding("y", "confirm", "Yes"),
        Binding("enter", "confirm", "Yes", show=False),
        Binding("n", "cancel", "No"),
        Binding("escape", "cancel", "No", show=False),
    ]

    def __init__(self, title: str, question: str, facts: Sequence[tuple[str, str]], warning: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.facts = list(facts)
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), id="confirm-question")
            width = max((len(label) for label, _ in self.facts), default=0)
            facts = Text()
            for i, (label, value) in enumerate(self.facts):
                facts.append("\n" if i else "").append(f"{label:<{width}}  ", style="dim").append(value)
            yield Static(facts, id="confirm-facts")
            yield Static(Text(self.warning), id="confirm-warning")
            yield Static("y / enter confirm · n / escape cancel", id="confirm-keys")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = self.title_text

    @property
    def text(self) -> str:
        """Everything the dialog says, as plain text (for tests and screen readers)."""
        return "\n".join(str(s.content) for s in self.query(Static))

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
