"""Cron in time zones: standard crontab fields, and daylight saving handled once per local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import cron
from chalicelib.clock import iso, to_ms


def slots(pattern: str, zone: str, start: datetime, count: int) -> list[str]:
    found, cursor = [], to_ms(start)
    for _ in range(count):
        cursor = cron.next_after(pattern, zone, cursor)
        found.append(iso(cursor))
    return found


@pytest.mark.parametrize(
    ("zone", "pattern", "start", "expected"),
    [
        # fall-back: 01:30 happens twice in New York on 2026-11-01; it runs once, at the first
        ("America/New_York", "30 1 * * *", datetime(2026, 10, 31, 12, tzinfo=UTC),
         ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]),
        ("Europe/Berlin", "30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=UTC),
         ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]),
        # spring-forward: 02:30 does not exist; it runs once, at the first instant after the gap
        ("America/New_York", "30 2 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC),
         ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"]),
        ("Europe/Berlin", "30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=UTC),
         ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]),
        # Lord Howe moves by 30 minutes: 02:15 is skipped on 2026-10-04 (runs at 02:30 +11:00) ...
        ("Australia/Lord_Howe", "15 2 * * *", datetime(2026, 10, 3, 0, tzinfo=UTC),
         ["2026-10-03T15:30:00.000Z", "2026-10-04T15:15:00.000Z"]),
        # ... and 01:45 happens twice on 2026-04-05 (runs once, at +11:00)
        ("Australia/Lord_Howe", "45 1 * * *", datetime(2026, 4, 4, 0, tzinfo=UTC),
         ["2026-04-04T14:45:00.000Z", "2026-04-05T15:15:00.000Z"]),
        # Havana starts daylight saving at midnight: 00:00 on 2026-03-08 does not exist, it runs at 01:00
        ("America/Havana", "0 0 * * *", datetime(2026, 3, 6, 12, tzinfo=UTC),
         ["2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z"]),
    ],
)  # fmt: skip
def test_daylight_saving_runs_each_local_time_once(zone, pattern, start, expected):
    assert slots(pattern, zone, start, len(expected)) == expected


def test_patterns_with_every_hour_keep_their_rhythm_through_the_repeated_hour():
    runs = slots("0 * * * *", "America/New_York", datetime(2026, 11, 1, 4, 30, tzinfo=UTC), 3)
    assert runs == ["2026-11-01T05:00:00.000Z", "2026-11-01T06:00:00.000Z", "2026-11-01T07:00:00.000Z"]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("* * * *", "expected 5 fields"),
        ("60 * * * *", "out of range"),
        ("0 0 30 2 *", "never fires"),
        ("@daily", "macros"),
        ("0 0 L * *", "not valid crontab syntax"),
        ("10-5 * * * *", "backwards"),
        ("*/0 * * * *", "at least 1"),
        ("0 0 1,* * *", "write '\\*' alone"),  # crontab reads `1,*` as restricted, croniter as `*`
    ],
)
def test_invalid_patterns_say_why(pattern, message):
    with pytest.raises(cron.CronError, match=message):
        cron.validate(pattern)


def test_crontab_semantics():
    monday = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert slots("0 0 * * 7", "UTC", monday, 1) == ["2026-11-29T00:00:00.000Z"]  # 7 is Sunday
    assert slots("0 9 * * MON-FRI", "UTC", datetime(2026, 11, 27, 12, tzinfo=UTC), 1) == ["2026-11-30T09:00:00.000Z"]
    assert slots("0 0 1 * 1", "UTC", monday, 1) == ["2026-11-30T00:00:00.000Z"]  # either day field matches


def test_a_day_field_starting_with_a_star_is_not_a_restriction():
    """crontab: `*/2` in a day field does not make the day rule "either"; the day must match both fields (croniter
    alone would run `0 0 1 * */2` every other weekday, not on the 1st)."""
    assert slots("0 0 1 * */2", "UTC", datetime(2026, 11, 2, tzinfo=UTC), 2) == [
        "2026-12-01T00:00:00.000Z",  # a Tuesday (2): on the 1st and an even weekday
        "2027-04-01T00:00:00.000Z",  # a Thursday (4); the 1sts of January to March are odd weekdays
    ]
    # the 1st, 11th, 21st or 31st, when a Monday
    assert slots("0 0 */10 * 1", "UTC", datetime(2026, 11, 2, tzinfo=UTC), 2) == [
        "2026-12-21T00:00:00.000Z",
        "2027-01-11T00:00:00.000Z",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("5-5 * * * *", ["2026-11-23T12:05:00.000Z", "2026-11-23T13:05:00.000Z"]),
        ("3-3/2 * * * *", ["2026-11-23T12:03:00.000Z", "2026-11-23T13:03:00.000Z"]),
        ("0 14-14 * * *", ["2026-11-23T14:00:00.000Z", "2026-11-24T14:00:00.000Z"]),
        ("0 0 * * tue-TUE", ["2026-11-24T00:00:00.000Z", "2026-12-01T00:00:00.000Z"]),
    ],
)
def test_a_range_of_one_value_is_that_value(pattern, expected):
    """croniter reads `5-5` as `*` (every minute); crontab, and we, as 5."""
    assert slots(pattern, "UTC", datetime(2026, 11, 23, 12, tzinfo=UTC), 2) == expected


def test_a_leading_seconds_field_fires_on_those_seconds():
    start = datetime(2026, 11, 23, 12, 0, 7, tzinfo=UTC)
    assert slots("*/15 * * * * *", "UTC", start, 4) == [
        "2026-11-23T12:00:15.000Z",
        "2026-11-23T12:00:30.000Z",
        "2026-11-23T12:00:45.000Z",
        "2026-11-23T12:01:00.000Z",
    ]
    assert slots("30 0 9 * * *", "Europe/Berlin", start, 1) == ["2026-11-24T08:00:30.000Z"]
    cron.validate("*/15 * * * * *")
    with pytest.raises(cron.CronError, match="second value 60"):
        cron.validate("60 * * * * *")
    with pytest.raises(cron.CronError, match="expected 5 fields"):
        cron.validate("* * * * * * *")
