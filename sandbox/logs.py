"""Container logs: one list of lines per container instance, the previous instance kept for `--previous`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from sandbox.clock import Clock

LogKey = tuple[str, str, str]  # namespace, pod, container


@dataclass(slots=True)
class Instance:
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    finished: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class LogBook:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._current: dict[LogKey, Instance] = {}
        self._previous: dict[LogKey, Instance] = {}

    def start(self, namespace: str, pod: str, container: str) -> None:
        """A new container instance starts: the running one becomes `previous`."""
        key = (namespace, pod, container)
        cur = self._current.get(key)
        if cur is not None:
            cur.finished = True
            cur.poke()
            self._previous[key] = cur
        self._current[key] = Instance()

    def write(self, namespace: str, pod: str, container: str, line: str) -> None:
        key = (namespace, pod, container)
        inst = self._current.get(key)
        if inst is None:
            self.start(namespace, pod, container)
            inst = self._current[key]
        inst.lines.append((self.clock.now_precise(), line))
        inst.poke()

    def finish(self, namespace: str, pod: str, container: str) -> None:
        inst = self._current.get((namespace, pod, container))
        if inst is not None and not inst.finished:
            inst.finished = True
            inst.poke()

    def instance(self, namespace: str, pod: str, container: str, previous: bool = False) -> Instance | None:
        key = (namespace, pod, container)
        return (self._previous if previous else self._current).get(key)

    def forget(self, namespace: str, pod: str) -> None:
        for book in (self._current, self._previous):
            for key in [k for k in book if k[0] == namespace and k[1] == pod]:
                inst = book.pop(key)
                inst.finished = True
                inst.poke()

    async def follow(self, inst: Instance, start: int) -> AsyncIterator[tuple[datetime, str]]:
        """Lines from index `start`, then new ones as they arrive, until the instance finishes."""
        i = start
        while True:
            while i < len(inst.lines):
                yield inst.lines[i]
                i += 1
            if inst.finished:
                return
            await inst.changed.wait()
