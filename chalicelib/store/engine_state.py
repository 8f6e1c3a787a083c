"""Engine bookkeeping in the keys table: the last tick, and hourly run counters for stats."""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from typing import Any

from chalicelib.store.keys import get, put
from chalicelib.store.models import KeyModel

log = logging.getLogger(__name__)
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


_pending: Counter[tuple[int, int, str]] = Counter()
_pending_lock = threading.Lock()


def count_outcome(application_id: int, status: str, at_ms: int) -> None:
    """Count a finished run in memory; `flush_outcomes` writes the batch's counts (one write per run would
    cost a write unit per run)."""
    with _pending_lock:
        _pending[(application_id, hour_of(at_ms), status)] += 1


def flush_outcomes() -> None:
    """One ADD per (application, hour, status) counted since the last flush, on a random shard of the
    hourly counter. A failed write keeps its count for the next flush."""
    with _pending_lock:
        pending = dict(_pending)
        _pending.clear()
    for (application_id, hour, status), runs in pending.items():
        item = KeyModel(counter_key(application_id, hour, status, random.randrange(COUNTER_SHARDS)))
        expires = (hour + 1) * 3600 + COUNTER_TTL_SECONDS
        try:
            item.update(actions=[KeyModel.value.add(runs), KeyModel.expiresAt.set(expires)])
        except Exception:  # stats must never fail a run; the count waits for the next flush
            log.warning("run counter write failed; kept for the next flush", exc_info=True)
            with _pending_lock:
                _pending[(application_id, hour, status)] += runs


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
