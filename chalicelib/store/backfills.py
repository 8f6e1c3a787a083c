"""Backfills: one keys-table item per backfill (`backfill#{id}`) holding its slots (at most 1,000), how far their
dispatch has gone, and which slots already had a run (skipped). A step of the dispatch is one conditional update
of the cursor, so two deliveries of the same step never dispatch a slot twice."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.models import KeyModel

State = Literal["running", "done", "cancelled"]


@dataclass(frozen=True)
class Backfill:
    id: int
    job_id: int
    application_id: int
    start: int  # `from`, epoch ms (inclusive)
    end: int  # `to`, epoch ms (exclusive)
    slots: list[int]
    per_minute: int
    max_runs: int
    created_at: int
    created_by: str | None
    next: int = 0  # slots[:next] have been dispatched (or skipped)
    skipped: list[int] = field(default_factory=list)  # slots that already had a run
    state: State = "running"
    version: int = 0


def _key(backfill_id: int) -> str:
    return f"backfill#{backfill_id}"


def _item(backfill: Backfill) -> KeyModel:
    data = {"jobId": backfill.job_id, "applicationId": backfill.application_id, "from": backfill.start,
            "to": backfill.end, "slots": backfill.slots, "perMinute": backfill.per_minute,
            "maxRuns": backfill.max_runs, "createdAt": backfill.created_at, "createdBy": backfill.created_by,
            "next": backfill.next, "skipped": backfill.skipped, "state": backfill.state}  # fmt: skip
    retention = get_settings().execution_retention_days * 86_400
    return KeyModel(_key(backfill.id), data=data, value=backfill.version + 1, expiresAt=int(time.time()) + retention)


def create(backfill: Backfill) -> Backfill:
    made = replace(backfill, id=keys.allocate_ids("backfill"))
    _item(made).save(condition=KeyModel.key.does_not_exist())
    return replace(made, version=1)


def get(backfill_id: int) -> Backfill | None:
    item = keys.get(_key(backfill_id))
    if item is None or not item.data:
        return None
    data: dict[str, Any] = item.data
    return Backfill(backfill_id, int(data["jobId"]), int(data["applicationId"]), int(data["from"]), int(data["to"]),
                    [int(slot) for slot in data["slots"]], int(data["perMinute"]), int(data["maxRuns"]),
                    int(data["createdAt"]), data.get("createdBy"), int(data["next"]),
                    [int(slot) for slot in data.get("skipped") or []], data.get("state", "running"),
                    int(item.value or 0))  # fmt: skip


def save(changed: Backfill, seen: Backfill) -> Backfill | None:
    """Write `changed` if the stored backfill is still `seen` (None otherwise: another step or a cancel won)."""
    if not keys.save_versioned(_item(changed), seen.version):
        return None
    return replace(changed, version=seen.version + 1)
