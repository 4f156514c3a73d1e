"""Cron schedules read as Kubernetes reads a CronJob's `schedule` and `timeZone`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sandbox.cron import CronError, parse


def at(*args: int, tz: str | None = None) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz) if tz else UTC)  # type: ignore[misc]


def runs(spec: str, start: datetime, n: int = 4, zone: str | None = None) -> list[datetime]:
    s = parse(spec, zone)
    out, t = [], start
    for _ in range(n):
        t = s.next(t)
        out.append(t)
    return out


def test_every_minute_fires_on_the_next_whole_minute():
    assert runs("*/1 * * * *", at(2026, 3, 1, 10, 0, 30), 2) == [at(2026, 3, 1, 10, 1), at(2026, 3, 1, 10, 2)]
    assert parse("* * * * *").next(at(2026, 3, 1, 10, 0)) == at(2026, 3, 1, 10, 1)  # strictly after


def test_lists_ranges_and_steps():
    assert runs("0,30 9-10 * * *", at(2026, 3, 1, 0, 0)) == [
        at(2026, 3, 1, 9, 0),
        at(2026, 3, 1, 9, 30),
        at(2026, 3, 1, 10, 0),
        at(2026, 3, 1, 10, 30),
    ]
    assert [t.minute for t in runs("5/20 * * * *", at(2026, 3, 1, 0, 0), 3)] == [5, 25, 45]
    assert [t.hour for t in runs("0 1-10/3 * * *", at(2026, 3, 1, 0, 0), 4)] == [1, 4, 7, 10]


def test_names_for_months_and_weekdays():
    # 2026-03-02 is a Monday
    assert runs("0 8 * * MON-FRI", at(2026, 3, 6, 9, 0), 2) == [at(2026, 3, 9, 8, 0), at(2026, 3, 10, 8, 0)]
    assert runs("0 0 1 jan,Jul *", at(2026, 3, 1), 2) == [at(2026, 7, 1), at(2027, 1, 1)]


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # the 13th, or any Friday
    got = runs("0 0 13 * 5", at(2026, 3, 1), 4)
    assert got == [at(2026, 3, 6), at(2026, 3, 13), at(2026, 3, 20), at(2026, 3, 27)]
    # with a star in one field both must hold
    assert runs("0 0 */1 * 5", at(2026, 3, 1), 1) == [at(2026, 3, 6)]


def test_descriptors():
    assert parse("@hourly").next(at(2026, 3, 1, 10, 15)) == at(2026, 3, 1, 11, 0)
    assert parse("@daily").next(at(2026, 3, 1, 10, 15)) == at(2026, 3, 2)
    assert parse("@midnight").next(at(2026, 3, 1, 10, 15)) == at(2026, 3, 2)
    assert parse("@weekly").next(at(2026, 3, 3)) == at(2026, 3, 8)  # Sunday
    assert parse("@monthly").next(at(2026, 3, 3)) == at(2026, 4, 1)
    assert parse("@yearly").next(at(2026, 3, 3)) == parse("@annually").next(at(2026, 3, 3)) == at(2027, 1, 1)
    assert parse("@every 1h30m").next(at(2026, 3, 1, 10, 0, 10)) == at(2026, 3, 1, 11, 30, 10)


def test_time_zone_from_the_cronjob_or_the_schedule_prefix():
    berlin = parse("0 9 * * *", "Europe/Berlin").next(at(2026, 1, 10, 0, 0))
    assert berlin.astimezone(UTC) == at(2026, 1, 10, 8, 0)
    prefixed = parse("CRON_TZ=America/New_York 30 6 * * *").next(at(2026, 1, 10, 0, 0))
    assert prefixed.astimezone(UTC) == at(2026, 1, 10, 11, 30)
    assert parse("TZ=UTC 0 0 * * *").next(at(2026, 1, 10, 5)) == at(2026, 1, 11)


def test_daylight_saving_gaps_and_repeats():
    # 2026-03-29 02:30 does not exist in Berlin: the run happens once, an hour later in wall time
    spring = parse("30 2 * * *", "Europe/Berlin").next(at(2026, 3, 29, 0, 0))
    assert spring.astimezone(UTC) == at(2026, 3, 29, 1, 30)
    # 2026-10-25 02:30 happens twice in Berlin: the job runs on the first one only
    s = parse("30 2 * * *", "Europe/Berlin")
    first = s.next(at(2026, 10, 25, 0, 0))
    assert first.astimezone(UTC) == at(2026, 10, 25, 0, 30)
    assert s.next(first).astimezone(UTC) == at(2026, 10, 26, 1, 30)


def test_leap_day_schedule_waits_for_the_next_leap_year():
    assert parse("0 0 29 2 *").next(at(2026, 3, 1)) == at(2028, 2, 29)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("* * * *", "expected exactly 5 fields, found 4"),
        ("60 * * * *", "end of range (60) above maximum (59)"),
        ("* * * * 7", "end of range (7) above maximum (6)"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1)"),
        ("*/0 * * * *", "step of range should be a positive number"),
        ("x * * * *", "failed to parse int from x"),
        ("@often", "unrecognized descriptor: @often"),
        ("CRON_TZ=Mars/Olympus 0 * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
        ("", "empty spec string"),
    ],
)
def test_schedules_kubernetes_refuses_are_refused(spec, message):
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(spec)


def test_unknown_time_zone_field_is_refused():
    with pytest.raises(CronError, match="unknown time zone Nowhere/Land"):
        parse("0 * * * *", "Nowhere/Land")


def test_next_is_fast_enough_to_walk_a_day_of_minutes():
    s = parse("*/1 * * * *")
    t = at(2026, 3, 1)
    for _ in range(1440):
        t = s.next(t)
    assert t == at(2026, 3, 1) + timedelta(days=1)
