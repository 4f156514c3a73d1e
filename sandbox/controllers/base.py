"""The controller runtime: store changes become work-queue keys, reconciled one at a time.

A controller's `reconcile` is synchronous and idempotent: it reads the store, writes the
difference, and may ask to be called again later on the fast clock (`requeue_after`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.clock import Clock
from sandbox.events import Recorder
from sandbox.logs import LogBook
from sandbox.resources import ResourceType
from sandbox.scenario import Scenario
from sandbox.store import Store

log = logging.getLogger("pitstop.sandbox")

Key = tuple[str, str]  # namespace, name of the object the controller owns the reconciliation of


@dataclass(slots=True)
class Context:
    store: Store
    clock: Clock
    recorder: Recorder
    logs: LogBook
    scenario: Scenario
    errors: list[str] = field(default_factory=list)  # controller bugs, surfaced by tests


class Controller:
    """Subclasses set `name`, implement `on_change` (enqueue keys) and `reconcile(key)`."""

    name = "controller"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.clock = ctx.clock
        self.recorder = ctx.recorder
        self._manager: Manager | None = None

    def on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    def initial_keys(self) -> Iterable[Key]:
        """Keys to reconcile once at start (objects that existed before the controller)."""
        return ()

    def enqueue(self, key: Key) -> None:
        assert self._manager is not None
        self._manager.enqueue(self, key)

    def requeue_after(self, key: Key, simulated_seconds: float) -> None:
        """Reconcile `key` again after `simulated_seconds` on the fast clock."""
        assert self._manager is not None
        self._manager.enqueue_later(self, key, simulated_seconds)


class Manager:
    def __init__(self, ctx: Context, controllers: list[Controller]) -> None:
        self.ctx = ctx
        self.controllers = controllers
        self._pending: dict[tuple[int, Key], Controller] = {}
        self._order: asyncio.Queue[tuple[int, Key]] = asyncio.Queue()
        self._timers: dict[tuple[int, Key], asyncio.TimerHandle] = {}
        self._task: asyncio.Task[None] | None = None
        for c in controllers:
            c._manager = self
        ctx.store.listen(self._on_change)

    def _on_change(self, type_: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for c in self.controllers:
            try:
                c.on_change(type_, rt, obj, old)
            except Exception:  # a controller bug must not fail the API write that triggered it; it is recorded
                self._report(c, traceback.format_exc())

    def enqueue(self, c: Controller, key: Key) -> None:
        k = (id(c), key)
        if k not in self._pending:
            self._pending[k] = c
            self._order.put_nowait(k)

    def enqueue_later(self, c: Controller, key: Key, simulated: float) -> None:
        k = (id(c), key)
        timer = self._timers.get(k)
        due = asyncio.get_running_loop().time() + self.ctx.clock.real_seconds(simulated)
        if timer is not None and not timer.cancelled() and timer.when() <= due:
            return  # an earlier wake-up is already planned
        if timer is not None:
            timer.cancel()
        self._timers[k] = self.ctx.clock.call_later(simulated, self._fire, c, key)

    def _fire(self, c: Controller, key: Key) -> None:
        self._timers.pop((id(c), key), None)
        self.enqueue(c, key)

    def start(self) -> None:
        for c in self.controllers:
            for key in c.initial_keys():
                self.enqueue(c, key)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-controllers")

    async def stop(self) -> None:
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        done = 0
        while True:
            k = await self._order.get()
            c = self._pending.pop(k, None)
            if c is None:
                continue
            try:
                c.reconcile(k[1])
            except Exception:  # keep the cluster running; the bug is recorded (tests fail on it) and logged
                self._report(c, traceback.format_exc())
            done += 1
            if done % 20 == 0:
                await asyncio.sleep(0)  # let API requests in between bursts of reconciles

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no reconcile is queued (timers may still be pending)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._pending and loop.time() < end:
            await asyncio.sleep(0.005)

    def _report(self, c: Controller, tb: str) -> None:
        self.ctx.errors.append(f"{c.name}: {tb}")
        log.error("controller %s failed:\n%s", c.name, tb)
