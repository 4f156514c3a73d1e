"""`pitstop --demo` in a real terminal (tmux): it shows the incident, quits on `q`, and hands the terminal back sane."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSION = "pitstop"
EXITED = "pitstop exited with"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """A tmux server of our own (its own socket, no user config), so nothing leaks into the user's sessions."""

    def __init__(self, tmp: Path) -> None:
        self.server = f"pitstop-test-{uuid.uuid4().hex[:12]}"  # a socket name, not a path: tmp paths can be too long
        self.conf = tmp / "tmux.conf"
        self.conf.write_text("set -g remain-on-exit on\nset -g history-limit 5000\n")

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> str:
        argv = ["tmux", "-L", self.server, "-f", str(self.conf), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True, env=env, timeout=10).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", SESSION)

    def flags(self) -> dict[str, str]:
        names = (
            "pane_dead",
            "alternate_on",
            "mouse_any_flag",
            "mouse_standard_flag",
            "mouse_button_flag",
            "mouse_all_flag",
            "mouse_sgr_flag",
            "cursor_flag",
            "keypad_cursor_flag",
        )
        values = self("display-message", "-p", "-t", SESSION, " ".join(f"#{{{n}}}" for n in names)).split()
        return dict(zip(names, values, strict=True))

    def kill(self) -> None:
        found = subprocess.run(
            ["tmux", "-L", self.server, "display-message", "-p", "#{socket_path}"], capture_output=True, text=True
        )
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True, timeout=10)
        if found.returncode == 0 and found.stdout.strip():
            Path(found.stdout.strip()).unlink(missing_ok=True)  # tmux leaves its socket file behind


def pane(screen: str, title: str) -> str:
    """The text inside the box titled `title` (`╭─ Findings ─…╮` down to its `╰…╯`); "" while it is not drawn."""
    lines = screen.splitlines()
    for top, line in enumerate(lines):
        left = line.find(f"╭─ {title} ")
        if left < 0:
            continue
        right = line.index("╮", left)
        inside = []
        for below in lines[top + 1 :]:
            if below[left : left + 1] == "╰":
                break
            inside.append(below[left + 1 : right])
        return "\n".join(inside)
    return ""


def until_screen(tmux: Tmux, seen: Callable[[str], bool], timeout: float, what: str) -> str:
    """Capture the pane until `seen(screen)`; fail with `what` and the last screen after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if seen(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; the screen was:\n{screen}")


def test_demo_console_shows_the_incident_and_quits_leaving_the_terminal_sane(tmp_path: Path) -> None:
    tmux = Tmux(tmp_path)
    # COLUMNS/LINES (set by some runners) would override the real 160x48 terminal in Textual
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES")}
    env |= {
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TERM": "xterm-256color",
        "PS1": "$ ",
    }
    # After pitstop: its exit code, the tty modes it left, then a plain shell that relies on the tty to echo.
    script = (
        f"TERM=xterm-256color {shlex.quote(sys.executable)} -m tui.cli --demo; echo '{EXITED}' $?; stty -a; exec sh -i"
    )
    try:
        tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48", "-c", str(ROOT), "sh", "-c", script, env=env)

        screen = until_screen(
            tmux,
            lambda s: "coditect-staging" in pane(s, "pods") and "coditect-worker" in pane(s, "Findings"),
            timeout=40,
            what="the pods of coditect-staging and the coditect-worker finding",
        )
        header = screen.splitlines()[0]
        assert header.split()[0] == "pitstop" and "ctx pitstop-sandbox" in header
        assert "Deployment coditect-staging/coditect-worker" in pane(screen, "Findings")
        assert tmux.flags()["alternate_on"] == "1", "the console draws on the alternate screen"

        tmux("send-keys", "-t", SESSION, "q")
        screen = until_screen(tmux, lambda s: EXITED in s, timeout=15, what="pitstop to exit after q")
        assert f"{EXITED} 0" in screen
        assert not pane(screen, "pods"), "the console's panes are gone with the alternate screen"

        flags = tmux.flags()
        assert flags["pane_dead"] == "0"
        assert flags["alternate_on"] == "0", "the alternate screen was left"
        assert {k: v for k, v in flags.items() if k.startswith("mouse_")} == dict.fromkeys(
            ("mouse_any_flag", "mouse_standard_flag", "mouse_button_flag", "mouse_all_flag", "mouse_sgr_flag"), "0"
        ), "mouse reporting is off again"
        assert flags["cursor_flag"] == "1", "the cursor is visible again"
        assert flags["keypad_cursor_flag"] == "0", "the cursor keys send normal sequences again"

        modes = set(screen.replace(";", " ").split())
        for mode in ("icanon", "echo", "isig", "icrnl", "opost", "onlcr", "ixon"):
            assert mode in modes and f"-{mode}" not in modes, f"stty shows -{mode}: pitstop left the tty raw"

        # dash does no line editing of its own: the typed command shows only if the tty echoes it
        tmux("send-keys", "-t", SESSION, "-l", "printf 'o%s\\n' k")
        tmux("send-keys", "-t", SESSION, "Enter")
        screen = until_screen(tmux, lambda s: "\nok\n" in s, timeout=10, what="the shell to run a typed command")
        assert "printf 'o%s\\n' k" in screen, "typed input is echoed"
    finally:
        tmux.kill()
