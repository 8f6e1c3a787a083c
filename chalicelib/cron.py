"""Cron patterns with standard crontab semantics, read in a job's IANA time zone.

Five fields (minute hour day-of-month month day-of-week), or six with a leading seconds field
(`*/15 * * * * *` fires every 15 s); names (`jan`, `MON-FRI`), `7` as Sunday,
and when both day fields are restricted a time matches if either does; a day field starting with `*` (`*/2`)
is no restriction, so the day must match both (Vixie cron). Extensions that
croniter would accept but crontab would misread (`L`, `#`, `?`, `H`, `@daily`) are refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from chalicelib.clock import from_ms, to_ms

MISFIRE_GRACE_MS = 60_000  # a slot whose run could not start within this long after it was missed (misfirePolicy)

_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DAYS = "sun|mon|tue|wed|thu|fri|sat"
_SECONDS = ("second", 0, 59, None)
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)


class CronError(ValueError):
    """A pattern or time zone that cannot be scheduled; the message says why."""


def _field_regex(names: str | None) -> re.Pattern[str]:
    atom = r"\d{1,2}" if names is None else rf"(?:\d{{1,2}}|{names})"
    item = rf"(?:\*|{atom}(?:-{atom})?)(?:/\d{{1,2}})?"
    return re.compile(rf"^{item}(?:,{item})*$", re.IGNORECASE)


_SPECS = {5: _FIELDS, 6: (_SECONDS, *_FIELDS)}


def _check_field(text: str, spec: tuple[str, int, int, str | None]) -> None:
    label, low, high, names = spec
    if not _field_regex(names).match(text):
        raise CronError(f"{label} field '{text}' is not valid crontab syntax")
    if "," in text and "*" in text.split(","):
        raise CronError(f"{label} field '{text}' lists '*' beside other values; write '*' alone")
    for number in re.findall(r"(?<![/\d])\d+", text):
        if not low <= int(number) <= high:
            raise CronError(f"{label} value {number} is out of range {low}-{high}")
    for start, end in re.findall(r"(?<![/\d])(\d+)-(\d+)", text):
        if int(start) > int(end):
            raise CronError(f"{label} range {start}-{end} runs backwards")
    for step in re.findall(r"/(\d+)", text):
        if int(step) == 0:
            raise CronError(f"{label} step must be at least 1")


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or CronError."""
    if name not in _zone_names():
        raise CronError(f"unknown time zone '{name}'; use an IANA name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown time zone '{name}'") from exc


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def validate(pattern: str, timezone: str = "UTC") -> None:
    """Refuse anything that is not a 5-field crontab line that fires at least once."""
    fields = pattern.split()
    if pattern.strip().startswith("@"):
        raise CronError("macros such as @daily or @reboot are not supported; write the 5 fields")
    if len(fields) not in _SPECS:
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds field; "
            f"got {len(fields)}"
        )
    for text, spec in zip(fields, _SPECS[len(fields)], strict=True):
        _check_field(text, spec)
    tz = zone(timezone)
    try:
        _iterator(fields, datetime(2024, 1, 1, tzinfo=tz)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise CronError("the pattern never fires (no date matches it)") from exc
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise CronError(f"not a valid cron pattern: {exc}") from exc


def fires_at(pattern: str, timezone: str, slot_ms: int) -> bool:
    """Whether `slot_ms` is one of the pattern's slots."""
    return next_after(pattern, timezone, slot_ms - 1) == slot_ms


def next_after(pattern: str, timezone: str, after_ms: int) -> int:
    """The first slot (epoch ms) strictly after `after_ms` at which `pattern` fires in `timezone`.

    Daylight saving, as Vixie cron does it: a local time skipped by a spring-forward change runs once, at
    the first instant after the gap; a local time repeated at fall-back runs once, at its first occurrence,
    when the pattern names its hours (`30 1 * * *`). Patterns whose hour field is `*` keep their rhythm
    through the repeated hour, so a job every minute does not stop for an hour.
    """
    tz = zone(timezone)
    fields = pattern.split()
    iterator = _iterator(fields, from_ms(after_ms).astimezone(tz))
    slot = iterator.get_next(datetime)
    if "*" not in fields[len(fields) - 4]:  # the hour field
        while _second_occurrence(slot, tz):
            slot = iterator.get_next(datetime)
    return to_ms(slot)


def next_in_window(pattern: str, timezone: str, after_ms: int, start_ms: int | None = None,
                   end_ms: int | None = None) -> int | None:  # fmt: skip
    """The first slot strictly after `after_ms` inside [start_ms, end_ms) (a job's startAt and endAt); None when
    there is none before the end."""
    if start_ms is not None:
        after_ms = max(after_ms, start_ms - 1)
    slot = next_after(pattern, timezone, after_ms)
    return None if end_ms is not None and slot >= end_ms else slot


def shortest_interval_ms(pattern: str, timezone: str, after_ms: int, count: int = 1_000) -> int | None:
    """The shortest gap between consecutive slots among the next `count` (None for fewer than two slots)."""
    walk = slots(pattern, timezone, after_ms)
    previous, shortest = next(walk), None
    for _ in range(count - 1):
        slot = next(walk)
        shortest = slot - previous if shortest is None else min(shortest, slot - previous)
        previous = slot
    return shortest


def jitter_ms(job_id: int, slot_ms: int, seconds: int | None) -> int:
    """A slot's deterministic offset in [0, seconds) from (job, slot): every rerun of a slot gets the same one, and
    the slots of many jobs spread evenly over the window."""
    if not seconds:
        return 0
    digest = hashlib.sha256(f"{job_id}:{slot_ms}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (seconds * 1000)


def slots(pattern: str, timezone: str, after_ms: int) -> Iterator[int]:
    """The slots strictly after `after_ms`, in order, from one calendar walk (what `next_after` gives one at a
    time, without parsing the pattern again for every slot: the tick lists up to 900 slots per job)."""
    tz = zone(timezone)
    fields = pattern.split()
    iterator = _iterator(fields, from_ms(after_ms).astimezone(tz))
    named_hours = "*" not in fields[len(fields) - 4]
    while True:
        slot = iterator.get_next(datetime)
        if named_hours and _second_occurrence(slot, tz):
            continue
        yield to_ms(slot)


def _iterator(fields: list[str], start: datetime) -> croniter:
    # crontab's day rule: when both day fields are restricted a day matches either; a field that starts with `*`
    # (`*`, `*/2`) is not restricted, and the day must match both (croniter would read `*/2` as restricted)
    day_or = not (fields[-3].startswith("*") or fields[-1].startswith("*"))
    line = " ".join(_single_ranges(fields))
    if day_or and _every_weekday(line, len(fields) == 6):
        # a restricted day-of-week that names every day (`0-6`, `mon-sun`): crontab then runs every day, whatever the
        # day of month says; croniter reads it as `*` and would keep only the day of month (found against cronsim)
        parts = line.split()
        line = " ".join([*parts[:-3], "*", parts[-2], "*"])
    return croniter(line, start, second_at_beginning=len(fields) == 6, day_or=day_or)


@lru_cache(maxsize=1024)
def _every_weekday(line: str, seconds: bool) -> bool:
    expanded, _ = croniter.expand(line, second_at_beginning=seconds)
    return bool(expanded[4] == ["*"])  # croniter's order: minute, hour, day of month, month, day of week, second


_SINGLE_RANGE = re.compile(r"(?<![\w*])(\w+)-(\w+)(?:/\d+)?(?![\w-])")


def _single_ranges(fields: list[str]) -> list[str]:
    """`5-5` (and `5-5/2`, `mon-mon`) as `5`: crontab reads a range of one value as that value, croniter
    reads it as `*` (found by checking our slots against cronsim, an independent evaluator)."""

    def one(match: re.Match[str]) -> str:
        start, end = match.group(1), match.group(2)
        return start if start.lower() == end.lower() else match.group(0)

    return [_SINGLE_RANGE.sub(one, text) for text in fields]


def _second_occurrence(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether this instant is the repeat of a local time that already happened (fold 1 at fall-back)."""
    return moment.astimezone(UTC).astimezone(tz).fold == 1
