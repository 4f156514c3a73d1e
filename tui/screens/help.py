"""`?`: every key that works right now — the focused pane's, the screen's, the app's — and the `:` commands."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

Row = tuple[str, str, str]  # (group, keys, what it does)

DEFAULT_COMMANDS: tuple[tuple[str, str], ...] = (
    (":pods", "jump to the pods"),
    (":jobs", "jump to the Jobs and CronJobs"),
    (":ns NAME", "show only namespace NAME (:ns all for every namespace)"),
    (":ctx NAME", "switch to the kubeconfig context NAME"),
    ("/", "filter the focused pane"),
)
COMMANDS_GROUP = "Commands"
APP_GROUP = "Everywhere"


def _describe(binding: Binding) -> str:
    if binding.description:
        return binding.description
    action = binding.action.rpartition(".")[2].partition("(")[0]
    return action.replace("_", " ").strip().capitalize() or binding.action


def _group_of(node: DOMNode, app: App[object], under: Screen[object]) -> str:
    if node is app:
        return APP_GROUP
    if node is under:
        return f"This screen ({type(node).__name__})" if type(node).__name__ != "Screen" else "This screen"
    return f"Focused: {type(node).__name__}"


def collect_rows(app: App[object], under: Screen[object], commands: Sequence[tuple[str, str]] = ()) -> list[Row]:
    """The keys active on `under` (focused widget first, then its screen, then the app) plus `commands`.

    The app's own BINDINGS are added even when the focused widget swallows the key
    (an Input takes `q`), so the help still lists them. Keys doing the same thing in
    the same place share a row: `escape, q  Close`.
    """
    rows: dict[tuple[str, str], list[str]] = {}
    seen: set[tuple[str, str]] = set()

    def add(group: str, binding: Binding) -> None:
        if binding.system or (group, binding.key) in seen:
            return
        seen.add((group, binding.key))
        rows.setdefault((group, _describe(binding)), []).append(app.get_key_display(binding))

    for active in under.active_bindings.values():
        add(_group_of(active.node, app, under), active.binding)
    for cls in type(app).__mro__:
        for binding in Binding.make_bindings(cls.__dict__.get("BINDINGS", ())):
            add(APP_GROUP, binding)
    out = [(COMMANDS_GROUP, keys, what) for keys, what in commands]
    order = {COMMANDS_GROUP: 0, APP_GROUP: 3}

    def rank(item: tuple[tuple[str, str], list[str]]) -> int:
        group = item[0][0]
        return order.get(group, 2 if group.startswith("This screen") else 1)

    for (group, what), keys in sorted(rows.items(), key=rank):  # stable: keeps binding order within a group
        out.append((group, ", ".join(dict.fromkeys(keys)), what))
    return out


class HelpScreen(ModalScreen[None]):
    """Lists the keys of the screen underneath and the app, grouped and aligned; escape, `?` or `q` close it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 84; height: 90%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen #help-keys { color: $text-muted; height: 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close help"),
        Binding("question_mark", "close", "Close help", show=False),
        Binding("q", "close", "Close help", show=False),
    ]

    def __init__(self, commands: Sequence[tuple[str, str]] = DEFAULT_COMMANDS, screen: Screen[object] | None = None):
        super().__init__()
        self.commands = list(commands)
        self._under = screen
        self.rows: list[Row] = []

    def compose(self) -> ComposeResult:
        under = self._under or next((s for s in reversed(self.app.screen_stack) if s is not self), self.app.screen)
        self.rows = collect_rows(self.app, under, self.commands)
        with Vertical():
            with VerticalScroll():
                yield Static(self._render_rows(), id="help-table")
            yield Static("escape / ? / q close", id="help-keys")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = "Keys"

    def _render_rows(self) -> Group:
        width = max((len(keys) for _, keys, _ in self.rows), default=4)
        parts: list[Table | Text] = []
        group = None
        for name, keys, what in self.rows:
            if name != group:
                group = name
                parts.append(Text(("\n" if parts else "") + name, style="bold underline"))
                table = Table.grid(padding=(0, 2))
                table.add_column(width=width, no_wrap=True, style="bold cyan")
                table.add_column()
                parts.append(table)
            table.add_row(Text(keys), Text(what))  # "[" is a key, not Rich markup
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
