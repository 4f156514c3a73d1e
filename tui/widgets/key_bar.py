"""KeyBar: the keys that work where the focus is, on one line at the bottom.

Textual's Footer shows the same, but remounts one widget per key whenever the focus
moves; with the pods table focused again after every `/` filter, that remount was the
slowest part of a keypress. KeyBar is one widget: a focus change costs one line of text.
A click on a key presses it.
"""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        & > .key-bar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        & > .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-bar--disabled { color: $text-disabled; }
    }
    """
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[tuple[int, int, str]] = []  # (x from, x to, key) for clicks
        self._text = Text()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        by_action: dict[str, list[tuple[Binding, bool]]] = defaultdict(list)
        palette = None
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = (binding, enabled)
            elif binding.show:
                by_action[binding.action].append((binding, enabled))
        key_style = self.get_component_rich_style("key-bar--key")
        text_style = self.get_component_rich_style("key-bar--description")
        off_style = self.get_component_rich_style("key-bar--disabled")
        text, keys = Text(no_wrap=True, overflow="crop"), []
        for binding, enabled in [found[0] for found in by_action.values()] + ([palette] if palette else []):
            start = text.cell_len
            text.append(f" {self.app.get_key_display(binding)} ", key_style if enabled else off_style)
            text.append(f"{binding.description} ", text_style if enabled else off_style)
            keys.append((start, text.cell_len, binding.key))
        self._text, self._keys = text, keys
        self.refresh()

    def render(self) -> Text:
        return self._text

    @property
    def plain(self) -> str:
        return self._text.plain

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._keys:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
