"""The key bar lists the keys of the focused widget and the app, follows the focus, and a click presses the key."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from tui.widgets.key_bar import KeyBar
from tui.widgets.resource_table import Column, ResourceTable, Row


class BarApp(App[None]):
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("x", "count", "Count"),
        Binding("z", "count", "Hidden", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.counted = 0

    def compose(self) -> ComposeResult:
        yield ResourceTable([Column("name", "NAME")], id="table")
        yield Input(id="input")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(ResourceTable).set_rows([Row("a", ("a",))])
        self.query_one(ResourceTable).focus()

    def action_count(self) -> None:
        self.counted += 1


async def test_the_bar_follows_the_focus_and_a_click_presses_the_key():
    app = BarApp()
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        bar = app.query_one(KeyBar)
        assert "q Quit" in bar.plain and "x Count" in bar.plain
        assert "Sort" in bar.plain, "the focused table's keys are there"
        assert "Hidden" not in bar.plain
        app.query_one(Input).focus()
        await pilot.pause()
        assert "Sort" not in bar.plain, "they go with the focus"
        app.query_one(ResourceTable).focus()
        await pilot.pause()
        x = bar.plain.index("x Count")
        await pilot.click(KeyBar, offset=(x + 1, 0))
        await pilot.pause()
        assert app.counted == 1
