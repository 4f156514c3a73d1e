"""The sandbox clock: real wall time for timestamps, a fast clock for delays.

Timestamps must be real (kubectl computes AGE against its own clock); only the
waits between simulated steps (image pulls, back-offs, CronJob runs) are scaled.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class Clock:
    def __init__(self, speed: float = 10.0) -> None:
        self.speed = speed  # simulated seconds per real second

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def now_precise(self) -> datetime:
        return datetime.now(UTC)

    def stamp(self, when: datetime | None = None) -> str:
        """RFC 3339 seconds precision, as the API server writes `creationTimestamp`."""
        return (when or self.now()).strftime("%Y-%m-%dT%H:%M:%SZ")

    def micro_stamp(self, when: datetime | None = None) -> str:
        """RFC 3339 with microseconds, as in `eventTime` and managedFields."""
        return (when or self.now_precise()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def real_seconds(self, simulated: float) -> float:
        return simulated / self.speed

    async def sleep(self, simulated: float) -> None:
        await asyncio.sleep(simulated / self.speed)

    def call_later(self, simulated: float, callback, *args):  # type: ignore[no-untyped-def]
        return asyncio.get_running_loop().call_later(simulated / self.speed, callback, *args)


def parse_stamp(value: str) -> datetime:
    return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
