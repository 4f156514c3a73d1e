"""Simulated time for controllers: timestamps stay real, the waits between them run `clock.speed` times faster.

A deadline of 600 s (progressDeadlineSeconds, activeDeadlineSeconds, a Job's back-off, a
TTL) measured from a real timestamp passes after 600 / speed real seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sandbox.clock import Clock, parse_stamp


def elapsed(clock: Clock, since: str | datetime | None) -> float:
    """Simulated seconds since `since`: a real RFC 3339 stamp or an aware datetime (0 when missing or unreadable).

    Stamps have whole seconds, so at speed 100 they are up to 100 simulated seconds early;
    controllers keep precise datetimes for the waits they start themselves.
    """
    if not since:
        return 0.0
    if isinstance(since, str):
        try:
            since = parse_stamp(since)
        except ValueError:
            return 0.0
    return max(0.0, (clock.now_precise() - since).total_seconds() * clock.speed)


def left(clock: Clock, stamp: str | datetime | None, seconds: float) -> float:
    """Simulated seconds until `seconds` have passed since `stamp` (≤ 0 once they have)."""
    return seconds - elapsed(clock, stamp)


class Timeline:
    """Simulated wall time for cron schedules.

    Before the sandbox started it is real time (scenario objects are backdated, and the
    schedules they missed fall on real minutes); from the start on it runs `speed` times
    faster, so a `*/1` CronJob at speed 50 fires every 1.2 real seconds.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.origin = clock.now_precise()

    def now(self) -> datetime:
        return self.to_sim(self.clock.now_precise())

    def to_sim(self, real: datetime) -> datetime:
        if real <= self.origin:
            return real
        return self.origin + (real - self.origin) * self.clock.speed

    def to_real(self, sim: datetime) -> datetime:
        if sim <= self.origin:
            return sim
        return self.origin + (sim - self.origin) / self.clock.speed

    def seconds_until(self, sim: datetime) -> float:
        """Simulated seconds from now until `sim` (negative when it has passed)."""
        return (sim - self.now()) / timedelta(seconds=1)
