"""Time helpers: one representation per boundary (epoch ms inside, ISO-8601 UTC outside)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, tzinfo


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: float | None) -> str | None:
    """Epoch milliseconds as `2026-02-04T10:00:00.000Z`, or None (stored numbers come back as floats)."""
    if ms is None:
        return None
    ms = int(ms)
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def local_iso(ms: int, zone: tzinfo) -> str:
    """Epoch milliseconds as wall time in `zone` with its offset, e.g. `2026-03-29T03:00:00+02:00`."""
    return datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="seconds")
