"""Cron schedules as a CronJob reads them: five fields, names, steps, `@daily`, `@every`, time zones.

The grammar is the one Kubernetes accepts (robfig/cron's standard parser): `*` and `?`,
lists, ranges, steps (`*/15`, `5/15`, `1-30/2`), month and weekday names, the
descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly` and
`@every <duration>`, and a `CRON_TZ=<zone>` (or `TZ=`) prefix. Weekdays are 0-6
(Sunday is 0, `7` is refused as it is by Kubernetes). When both day-of-month and
day-of-week are restricted a day matching either runs, as in every cron.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronError", "Schedule", "load_zone", "parse"]


class CronError(ValueError):
    """A schedule Kubernetes would refuse; the message reads like the API server's."""


_MONTHS = {
    n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 6, _DAYS),
)


def load_zone(name: str) -> tzinfo:
    """The IANA zone `name` (`""` and `UTC` are UTC); CronError when the zone is unknown."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        raise CronError(f"provided bad location {name}: unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"provided bad location {name}: unknown time zone {name}") from e


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule; `next(t)` is the first activation strictly after `t`."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_star: bool
    dow_star: bool
    zone: tzinfo
    every: float = 0.0  # seconds, for `@every`

    def next(self, t: datetime) -> datetime:
        """The first activation after `t` (an aware datetime), returned in the schedule's zone."""
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        if self.every:
            base = t.replace(microsecond=0)
            return (base + timedelta(seconds=self.every)).astimezone(self.zone)
        local = t.astimezone(self.zone)
        wall = local.replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        limit = wall.year + 5
        while wall.year <= limit:
            if wall.month not in self.months:
                wall = (wall.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(wall):
                wall = wall.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if wall.hour not in self.hours:
                wall = wall.replace(minute=0) + timedelta(hours=1)
                continue
            if wall.minute not in self.minutes:
                wall += timedelta(minutes=1)
                continue
            found = wall.replace(tzinfo=self.zone)
            if found.astimezone(UTC) > t.astimezone(UTC):
                return found
            wall += timedelta(minutes=1)  # a wall time repeated by a DST change
        raise CronError("schedule never activates (no matching date within five years)")

    def _day_matches(self, wall: datetime) -> bool:
        dom = wall.day in self.days
        dow = (wall.weekday() + 1) % 7 in self.weekdays  # Python's Monday=0 → cron's Sunday=0
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow


def parse(spec: str, zone: str | None = None) -> Schedule:
    """Parse `spec` (optionally prefixed `CRON_TZ=…`/`TZ=…`) evaluated in `zone` (a CronJob's `timeZone`)."""
    text = spec.strip()
    tz: tzinfo = load_zone(zone) if zone else UTC
    if text.startswith(("TZ=", "CRON_TZ=")):
        head, _, text = text.partition(" ")
        tz = load_zone(head.split("=", 1)[1])
        text = text.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith("@"):
        if text.startswith("@every "):
            seconds = float(max(1, int(_go_duration(text[len("@every ") :].strip()))))  # whole seconds, at least one
            everything = frozenset(range(0))
            return Schedule(everything, everything, everything, everything, everything, True, True, tz, every=seconds)
        expanded = _DESCRIPTORS.get(text.lower())
        if expanded is None:
            raise CronError(f"unrecognized descriptor: {text}")
        text = expanded
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    parsed = [_parse_field(f, spec_field) for f, spec_field in zip(fields, _FIELDS, strict=True)]
    (minutes, _), (hours, _), (days, dom_star), (months, _), (weekdays, dow_star) = parsed
    return Schedule(minutes, hours, days, months, weekdays, dom_star, dow_star, tz)


def _parse_field(text: str, field: _Field) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        got, part_star = _parse_range(part, field)
        values |= got
        star = star or part_star
    return frozenset(values), star


def _parse_range(expr: str, field: _Field) -> tuple[set[int], bool]:
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    low_high = range_and_step[0].split("-")
    if len(low_high) > 2:
        raise CronError(f"too many hyphens: {expr}")
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = field.low, field.high, True
    else:
        start = _value(low_high[0], field)
        end = _value(low_high[1], field) if len(low_high) == 2 else start
    step = 1
    if len(range_and_step) == 2:
        step = _number(range_and_step[1])
        if len(low_high) == 1 and not star:
            end = field.high  # `5/15` means from 5 to the end of the range
        if step > 1:
            star = False  # `*/2` restricts the field
    if start < field.low:
        raise CronError(f"beginning of range ({start}) below minimum ({field.low}): {expr}")
    if end > field.high:
        raise CronError(f"end of range ({end}) above maximum ({field.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _value(text: str, field: _Field) -> int:
    if field.names and text.lower() in field.names:
        return field.names[text.lower()]
    return _number(text)


def _number(text: str) -> int:
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
    return int(text)


def _go_duration(text: str) -> float:
    """Seconds in a Go duration string (`1h30m`, `90s`, `1.5h`)."""
    if not text or _DURATION_PART.sub("", text):
        raise CronError(f"failed to parse duration @every {text}: time: invalid duration {text!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
