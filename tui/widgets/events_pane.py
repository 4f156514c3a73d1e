"""Warning events as they stream in, newest last, each printed once per occurrence."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import RichLog

from diagnostics.podstatus import age
from diagnostics.snapshot import Snapshot


class EventsPane(RichLog):
    DEFAULT_CSS = """
    EventsPane { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, max_lines: int = 500) -> None:
        super().__init__(id=id, max_lines=max_lines, wrap=False, markup=False, auto_scroll=True)
        self._seen: dict[str, int] = {}  # event uid -> count already printed

    def on_mount(self) -> None:
        self.border_title = "Warning events"

    def show(self, snapshot: Snapshot, now: datetime) -> None:
        if "Event" in snapshot.forbidden:
            if not self._seen.get("__forbidden__"):
                self.write(Text("could not list events: forbidden", style="yellow"))
                self._seen["__forbidden__"] = 1
            return
        fresh = []
        for ev in snapshot.list("Event"):
            if ev.get("type") != "Warning":
                continue
            uid = ev["metadata"].get("uid") or ev["metadata"]["name"]
            count = ev.get("count") or 1
            if self._seen.get(uid) == count:
                continue
            self._seen[uid] = count
            fresh.append(ev)
        fresh.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        for ev in fresh:
            obj = ev.get("involvedObject") or {}
            when = ev.get("lastTimestamp") or ev.get("eventTime") or ""
            line = Text()
            line.append(f"{age(when, now) if when else '?':>5} ", style="dim")
            line.append(f"{ev.get('reason', '')} ", style="bold yellow")
            line.append(f"{obj.get('kind', '')}/{obj.get('name', '')} ", style="cyan")
            count = ev.get("count") or 1
            line.append(ev.get("message", "") + (f" (x{count})" if count > 1 else ""))
            self.write(line)
