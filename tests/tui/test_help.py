"""`?` in the middle of an incident: every key that works right now, and the `:` commands, in one aligned list."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tui.screens.help import APP_GROUP, COMMANDS_GROUP, HelpScreen


class FindingsList(Static, can_focus=True):
    BINDINGS = [Binding("d", "diff", "Review fix"), Binding("enter", "diff", "Review fix", show=False)]

    def action_diff(self) -> None:
        pass


class Host(App[None]):
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("colon", "jump", "Jump (:pods, :ns …)"),
        Binding("p", "run_playbooks", "Run playbooks"),
        Binding("u", "undo", "Undo last fix"),
        Binding("slash", "filter", "Filter"),
    ]

    def compose(self) -> ComposeResult:
        yield FindingsList("findings")

    def on_mount(self) -> None:
        self.query_one(FindingsList).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def plain(renderable: RenderableType) -> str:
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_help_lists_the_app_keys_the_focused_pane_keys_and_the_commands() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = set(help_screen.rows)
        assert {
            (APP_GROUP, "^q, q", "Quit"),
            (APP_GROUP, "?", "Help"),
            (APP_GROUP, "u", "Undo last fix"),
            (APP_GROUP, "p", "Run playbooks"),
            ("Focused: FindingsList", "d, ⏎", "Review fix"),
            (COMMANDS_GROUP, ":ns NAME", "show only namespace NAME (:ns all for every namespace)"),
            (COMMANDS_GROUP, ":ctx NAME", "switch to the kubeconfig context NAME"),
            (COMMANDS_GROUP, ":pods", "jump to the pods"),
            (COMMANDS_GROUP, ":jobs", "jump to the Jobs and CronJobs"),
            (COMMANDS_GROUP, "/", "filter the focused pane"),
        } <= rows
        groups = list(dict.fromkeys(group for group, _, _ in help_screen.rows))
        assert groups[0] == COMMANDS_GROUP and groups[-1] == APP_GROUP

        text = plain(help_screen.query_one("#help-table", Static).content)  # type: ignore[arg-type]
        columns = {
            line.index(what) for line in text.splitlines() for what in ("Undo last fix", "Review fix") if what in line
        }
        assert len(columns) == 1, f"descriptions are aligned in one column:\n{text}"


async def test_escape_question_mark_and_q_close_help_without_quitting() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("escape", "question_mark", "q"):
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen), f"{key} closes help"
        assert app.is_running


async def test_extra_commands_are_passed_in() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(HelpScreen(commands=[(":xray", "look through walls")]))
        await pilot.pause()
        assert (COMMANDS_GROUP, ":xray", "look through walls") in app.screen.rows  # type: ignore[attr-defined]
