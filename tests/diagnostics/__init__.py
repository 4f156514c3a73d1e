"""Tests of the engine: kubeconfig, client, watch cache, snapshot, redaction, probes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(predicate: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """`wait_for` for code that needs the event loop to keep running while it waits (the watch cache)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
