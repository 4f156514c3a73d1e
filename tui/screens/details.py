"""`enter` on a pod or workload: a describe-like view from the snapshot, and `l` for its logs (with follow).

Everything but the logs comes from the snapshot the app already holds (see `describe.py`);
logs are read through the `read_logs` callable the app passes in, in a worker, so this
screen never talks to the cluster itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Log, Static
from textual.worker import Worker, WorkerState

from diagnostics.snapshot import Obj, Snapshot
from tui.screens.describe import describe, metadata
from tui.widgets.key_bar import KeyBar

ReadLogs = Callable[[str, str, str | None, bool], Awaitable[str]]  # (namespace, pod, container, previous)
LogKey = tuple[str, str, str | None, bool]


class DetailsScreen(Screen[None]):
    """A pod or workload described; `l` logs, `f` follow, `p` previous container, `c` next container, escape back."""

    DEFAULT_CSS = """
    DetailsScreen #details-title { background: $boost; padding: 0 1; text-style: bold; }
    DetailsScreen ContentSwitcher, DetailsScreen #describe, DetailsScreen #logs, DetailsScreen Log { height: 1fr; }
    DetailsScreen #describe-body, DetailsScreen #logs-status { padding: 0 1; }
    DetailsScreen #logs-status { height: auto; color: $text-muted; }
    """
    BINDINGS = [
        Binding("l", "logs", "Logs"),
        Binding("f", "follow", "Follow"),
        Binding("p", "previous", "Previous logs"),
        Binding("c", "next_container", "Next container"),
        Binding("escape", "back", "Back"),
    ]

    class LogsRead(Message):
        """A worker read the logs of `key` = (namespace, pod, container, previous): the whole text so far."""

        def __init__(self, key: LogKey, text: str) -> None:
            super().__init__()
            self.key, self.text = key, text

    def __init__(
        self, obj: Obj, snapshot: Snapshot, read_logs: ReadLogs | None = None, *, follow_interval: float = 1.0
    ) -> None:
        super().__init__()
        self.obj, self.snapshot, self.read_logs, self.follow_interval = obj, snapshot, read_logs, follow_interval
        pods = [obj] if obj.get("kind") == "Pod" else snapshot.pods_of(obj)
        # a workload's first pod whose containers have started: a Pending pod has no logs to read
        started = [p for p in pods if (p.get("status") or {}).get("containerStatuses")]
        self.pod: Obj | None = next(iter(started or pods), None)
        spec = (self.pod or {}).get("spec") or {}
        self.containers = [c.get("name") for c in spec.get("containers") or []]
        default = (metadata(self.pod).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        self.container: str | None = default if default in self.containers else next(iter(self.containers), None)
        self.previous = False
        self.following = False
        self.log_text = ""  # what the Log shows: the last read's whole text
        self._key: LogKey | None = None
        self._view = "describe"

    def compose(self) -> ComposeResult:
        meta = metadata(self.obj)
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        yield Static(Text(f"{self.obj.get('kind')} {where}{meta.get('name')}"), id="details-title")
        with ContentSwitcher(initial="describe"):
            with VerticalScroll(id="describe"):
                yield Static(describe(self.obj, self.snapshot), id="describe-body")
            with Vertical(id="logs"):
                yield Static(id="logs-status")
                yield Log(id="logs-lines")
        yield KeyBar()

    @property
    def showing_logs(self) -> bool:
        return self._view == "logs"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.showing_logs or action not in ("follow", "previous", "next_container")

    # --- logs -------------------------------------------------------------------------------

    def _status(self, note: str = "") -> None:
        if self.pod is None:
            text = "No pod to read logs from: this workload has no pods in the snapshot."
        elif self.read_logs is None:
            text = "Logs are not available: there is no cluster connection to read them from."
        else:
            meta = metadata(self.pod)
            text = (
                f"logs {meta.get('namespace')}/{meta.get('name')} · container {self.container}"
                f"{' · previous' if self.previous else ''} · {'following' if self.following else 'not following'}"
                f"{' · ' + note if note else ''}"
            )
        self.query_one("#logs-status", Static).update(Text(text))

    def _start(self) -> None:
        """(Re)read the logs on display, following if asked; a new key starts from an empty log."""
        self.workers.cancel_group(self, "logs")
        if self.pod is None or self.read_logs is None:
            self.following = False
            self._status()
            return
        meta = metadata(self.pod)
        key: LogKey = (str(meta.get("namespace") or ""), str(meta.get("name")), self.container, self.previous)
        if key != self._key:
            self._key, self.log_text = key, ""
            self.query_one(Log).clear()
        self._status("reading…")
        self._read(key, self.following)

    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _read(self, key: LogKey, follow: bool) -> None:
        assert self.read_logs is not None
        while True:
            self.post_message(self.LogsRead(key, await self.read_logs(*key)))
            if not follow:
                return
            await asyncio.sleep(self.follow_interval)

    def on_details_screen_logs_read(self, message: LogsRead) -> None:
        if message.key != self._key:
            return  # a read for a container or mode no longer on display
        log = self.query_one(Log)
        if message.text.startswith(self.log_text):
            if len(message.text) > len(self.log_text):
                log.write(message.text[len(self.log_text) :])
        else:  # the log rotated or the container restarted: show what is there now
            log.clear()
            log.write(message.text)
        self.log_text = message.text
        self._status("" if message.text else "no log lines yet")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "logs" and event.state == WorkerState.ERROR:
            self.following = False
            self._status(f"could not read the logs: {event.worker.error}")

    def action_logs(self) -> None:
        self._view = self.query_one(ContentSwitcher).current = "logs"
        self.query_one(Log).focus()
        self.refresh_bindings()
        self._start()

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self._start()
        else:
            self.workers.cancel_group(self, "logs")
            self._status()

    def action_previous(self) -> None:
        self.previous = not self.previous
        self.following = False  # a terminated container's log does not grow
        self._start()

    def action_next_container(self) -> None:
        if len(self.containers) > 1:
            self.container = self.containers[(self.containers.index(self.container) + 1) % len(self.containers)]
            self._start()

    def action_back(self) -> None:
        if self.showing_logs:
            self.workers.cancel_group(self, "logs")
            self.following = False
            self._view = self.query_one(ContentSwitcher).current = "describe"
            self.query_one("#describe").focus()
            self.refresh_bindings()
        else:
            self.dismiss(None)
