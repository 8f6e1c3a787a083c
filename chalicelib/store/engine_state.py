"""Engine bookkeeping in the keys table: the last tick, and hourly run counters for stats."""

from __future__ import annotations

import random
from typing import Any

from chalicelib.store.keys import get, put
from chalicelib.store.models import KeyModel

TICK_KEY = "engine#tick"
COUNTER_SHARDS = 4  # spreads one application's counter writes over several items
COUNTER_TTL_SECONDS = 3 * 86_400


def record_tick(at_ms: int, duration_ms: int, dispatched: int) -> None:
    put(TICK_KEY, {"lastTickAt": at_ms, "lastTickDurationMs": duration_ms, "lastTickDispatched": dispatched}, 86_400)


def last_tick() -> dict[str, Any]:
    item = get(TICK_KEY)
    return dict(item.data) if item and item.data else {}


def hour_of(ms: int) -> int:
    return ms // 3_600_000


def counter_key(application_id: int, hour: int, status: str, shard: int) -> str:
    return f"stats#{application_id}#{hour}#{status}#{shard}"


def count_outcome(application_id: int, status: str, at_ms: int) -> None:
    """One ADD per finished run, on a random shard of the application's hourly counter for `status`."""
    item = KeyModel(counter_key(application_id, hour_of(at_ms), status, random.randrange(COUNTER_SHARDS)))
    item.update(actions=[KeyModel.value.add(1), KeyModel.expiresAt.set(at_ms // 1000 + COUNTER_TTL_SECONDS)])


def outcome_counts(application_ids: list[int], now_ms: int, statuses: tuple[str, ...]) -> dict[str, int]:
    """Finished runs per status over the current hour and the 23 before it."""
    current = hour_of(now_ms)
    keys = [
        counter_key(app_id, hour, status, shard)
        for app_id in application_ids
        for hour in range(current - 23, current + 1)
        for status in statuses
        for shard in range(COUNTER_SHARDS)
    ]
    totals = dict.fromkeys(statuses, 0)
    for item in KeyModel.batch_get(keys) if keys else []:
        status = item.key.split("#")[3]
        totals[status] += int(item.value or 0)
    return totals
