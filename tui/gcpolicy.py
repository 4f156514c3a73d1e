"""Full garbage collections while the operator is not typing.

A watch cache of 10,000 pods is a few hundred thousand long-lived containers. CPython's
automatic full collection walks all of them — 400 ms with the event loop held — and
with a watch stream it comes every few seconds. So, once the cache is loaded and shown:

- `gc.freeze()` moves what is alive into the permanent generation, which collections skip
  (acyclic objects, such as the pods' dicts, are still freed by reference counting);
- automatic full collections are turned off (young ones, where most cyclic garbage dies,
  go on as before);
- `tick()`, called every second, runs the full collection itself when no key or mouse
  input came for `quiet` seconds, then freezes the survivors, so each pause only covers
  what arrived since the last one. If the operator never pauses, it collects anyway
  every `longest` seconds, so memory stays bounded.
- Now and then (`deep` seconds, when idle) everything is unfrozen and collected once, so
  cycles that died after being frozen (closed screens) are reclaimed too.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

NEVER = 2**31 - 1  # a full-collection threshold that is never reached


class IdleCollector:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        quiet: float = 2.0,
        every: float = 10.0,
        longest: float = 60.0,
        deep: float = 600.0,
    ) -> None:
        self.clock = clock
        self.quiet, self.every, self.longest, self.deep = quiet, every, longest, deep
        self._saved: tuple[int, int, int] | None = None
        now = clock()
        self._input = self._collected = self._deep = now
        self.collections = 0  # full collections run by tick(), deep ones included
        self.deep_collections = 0

    @property
    def active(self) -> bool:
        return self._saved is not None

    def start(self) -> None:
        """Freeze what is alive now and take full collections over; a second call only freezes again."""
        gc.freeze()
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, NEVER)
        self._collected = self._deep = self.clock()

    def stop(self) -> None:
        """Give collections back to CPython as they were (the app is closing)."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
            gc.unfreeze()

    def input(self) -> None:
        """The operator pressed a key or used the mouse."""
        self._input = self.clock()

    def idle_for(self) -> float:
        """Seconds since the last key or mouse input."""
        return self.clock() - self._input

    def tick(self) -> str | None:
        """Collect if it is time; returns "deep", "full" or None (nothing done)."""
        if self._saved is None:
            return None
        now = self.clock()
        idle = now - self._input >= self.quiet
        if idle and now - self._deep >= self.deep:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._collected = self._deep = now
            self.collections += 1
            self.deep_collections += 1
            return "deep"
        due = now - self._collected
        if (idle and due >= self.every) or due >= self.longest:
            gc.collect()
            if idle:  # survivors of a collection made at leisure are frozen: the next pause covers only newer ones
                gc.freeze()
            self._collected = now
            self.collections += 1
            return "full"
        return None
