"""Our cron against an independent evaluator: cronsim (Healthchecks.io's), on generated crontab lines."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo

from cronsim import CronSim
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib import cron
from chalicelib.clock import from_ms, to_ms

DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    """One crontab field: `*`, a value, a range, a step over either, or a list of those."""
    value = st.integers(low, high)
    atom = value.map(str) if names is None else st.one_of(value.map(str), st.sampled_from(names))
    ranged = st.tuples(value, value).map(lambda pair: f"{min(pair)}-{max(pair)}")
    # a stepped range of one value (`5-5/2`) is left out: crontab reads it as `5` (as we do), cronsim as `5-59/2`
    wide = st.tuples(value, value).filter(lambda pair: pair[0] != pair[1]).map(lambda p: f"{min(p)}-{max(p)}")
    step = st.integers(1, max(1, high - low)).map(str)
    item = st.one_of(
        st.just("*"), atom, ranged,
        st.tuples(st.just("*"), step).map("/".join),
        st.tuples(wide, step).map("/".join),
    )  # fmt: skip
    listed = st.lists(item.filter(lambda text: text != "*"), min_size=2, max_size=3).map(",".join)
    return st.one_of(item, listed)  # `*` is refused as one item of a list (crontab and croniter disagree on it)


def pattern(seconds: bool) -> st.SearchStrategy[str]:
    fields = [
        field(0, 59),
        field(0, 23),
        field(1, 28),  # every month has these days: a pattern never waits years for a 31st in February
        field(1, 12, MONTHS),
        field(0, 7, DAYS),
    ]
    if seconds:
        fields.insert(0, field(0, 59))
    return st.tuples(*fields).map(" ".join)


STARTS = st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)).map(lambda moment: moment.replace(tzinfo=UTC))


# Zones without daylight saving in these years, half- and quarter-hour offsets among them (the daylight saving
# rules are ours, tested in test_cron.py: cronsim keeps the hourly rhythm differently).
ZONES = st.sampled_from(["UTC", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "America/Bogota"])


def ours(line: str, start: datetime, count: int, zone: str = "UTC") -> list[datetime]:
    return [from_ms(slot) for slot in islice(cron.slots(line, zone, to_ms(start)), count)]


def theirs(line: str, start: datetime, count: int, zone: str = "UTC") -> list[datetime]:
    # both strictly after `start`; cronsim counts whole seconds, in the zone of the moment it is given
    local = start.replace(microsecond=0).astimezone(ZoneInfo(zone))
    return [moment.astimezone(UTC) for moment in islice(CronSim(line, local), count)]


@settings(max_examples=400, deadline=None)
@given(pattern(seconds=False), STARTS, ZONES)
@example("0 0 1,*/2 * 0-6", datetime(2020, 1, 2, tzinfo=UTC), "UTC")  # a day-of-week naming every day
@example("0 0 1,*/2 * 1-5,0,6", datetime(2020, 1, 2, tzinfo=UTC), "Asia/Tokyo")
def test_five_field_lines_fire_when_cronsim_says(line, start, zone):
    assert ours(line, start, 5, zone) == theirs(line, start, 5, zone)


@settings(max_examples=150, deadline=None)
@given(pattern(seconds=True), STARTS)
@example("* * * 1,*/2 * 0-6", datetime(2020, 1, 2, tzinfo=UTC))  # found by hypothesis: odd days only, not every day
@example("* * * 2 * 0", datetime(2020, 1, 1, tzinfo=UTC))
def test_lines_with_seconds_fire_when_cronsim_says(line, start):
    assert ours(line, start, 5) == theirs(line, start, 5)


@settings(max_examples=100, deadline=None)
@given(pattern(seconds=False), STARTS)
def test_the_slot_walk_is_next_after_repeated(line, start):
    """`slots` (the tick's walk over a window) gives what `next_after` gives one slot at a time."""
    for zone in ("UTC", "America/New_York", "Australia/Lord_Howe"):
        walked, cursor = [], to_ms(start)
        for _ in range(5):
            cursor = cron.next_after(line, zone, cursor)
            walked.append(cursor)
        assert list(islice(cron.slots(line, zone, to_ms(start)), 5)) == walked
