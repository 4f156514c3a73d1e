"""Before a write in a production context: the operator types the context's name, exactly, or nothing happens."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmContext(ModalScreen[bool]):
    """Dismisses with True only when the typed name equals `context`; escape dismisses with False.

    A wrong name keeps the dialog open with "does not match", so a slip of the finger
    never applies anything, and never closes the dialog either.
    """

    DEFAULT_CSS = """
    ConfirmContext { align: center middle; }
    ConfirmContext > Vertical {
        width: 76; height: auto; padding: 1 2;
        border: thick $error; background: $surface;
    }
    ConfirmContext #confirm-prompt { margin-bottom: 1; }
    ConfirmContext #confirm-mismatch { color: $error; height: auto; margin-top: 1; }
    ConfirmContext #confirm-keys { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context_name = context

    def compose(self) -> ComposeResult:
        with Vertical():
            prompt = Text.assemble(
                ("PROD ", "bold white on red"),
                " Type the context name to apply in production: ",
                (self.context_name, "bold"),
            )
            yield Static(prompt, id="confirm-prompt")
            yield Input(id="confirm-input")
            yield Static("", id="confirm-mismatch")
            yield Static("enter confirm · escape cancel", id="confirm-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def mismatch(self) -> str:
        """The refusal on display, "" when none."""
        return str(self.query_one("#confirm-mismatch", Static).content)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == self.context_name:
            self.dismiss(True)
            return
        typed = f"'{event.value}'" if event.value else "An empty name"
        self.query_one("#confirm-mismatch", Static).update(
            Text(f"{typed} does not match the context name; type it exactly, or press escape to cancel.")
        )

    @on(Input.Changed)
    def _typing(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#confirm-mismatch", Static).update("")

    def action_cancel(self) -> None:
        self.dismiss(False)
