"""Backfills: which past slots a request covers, who may see and cancel it, and its progress as counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from chalicelib import cron
from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms, to_ms
from chalicelib.contracts.models import BackfillInput
from chalicelib.errors import NotFound, Unavailable, ValidationError
from chalicelib.queue import BackfillMessage, send
from chalicelib.services import jobs as job_service
from chalicelib.store import applications as app_store
from chalicelib.store import backfills as backfill_store
from chalicelib.store import executions as execution_store
from chalicelib.store.backfills import Backfill

CANCELLED = "CANCELLED"


def create(caller: Caller, job_id: int, given: BackfillInput) -> Backfill:
    job, app = job_service.get_visible(caller, job_id)
    if job.pattern is None:
        raise ValidationError.for_field("from", "a one-off job has no schedule to backfill; trigger it instead")
    start, end, now = to_ms(given.from_), to_ms(given.to), now_ms()
    if end <= start:
        raise ValidationError.for_field("to", "must be after from")
    if end > now:
        raise ValidationError.for_field("to", "must not be in the future: a backfill runs past slots only")
    slots: list[int] = []
    for slot in cron.slots(job.pattern, job.timezone, start - 1):
        if slot >= end:
            break
        slots.append(slot)
        if len(slots) > given.maxRuns:
            raise ValidationError.for_field("maxRuns", f"[from, to) holds more than {given.maxRuns} slots of the "
                                            "schedule; narrow the range or raise maxRuns (at most 1000)")  # fmt: skip
    if not slots:
        raise ValidationError.for_field("from", "no slot of the job's schedule lies in [from, to)")
    taken = execution_store.slots_with_runs(job.id, start, end)
    backfill = backfill_store.create(Backfill(0, job.id, app.id, start, end, slots, given.perMinute, given.maxRuns,
                                              now, caller.user, skipped=[s for s in slots if s in taken]))  # fmt: skip
    if send([(BackfillMessage(backfill.id), 0)]):
        backfill_store.save(replace(backfill, state="cancelled"), backfill)
        raise Unavailable("the run queue is not reachable; the backfill was not started")
    return backfill


def visible(caller: Caller, backfill_id: int) -> Backfill:
    backfill = backfill_store.get(backfill_id)
    app = app_store.get(backfill.application_id) if backfill else None
    if backfill is None or app is None or not caller.may_manage(app.name):
        raise NotFound(f"backfill {backfill_id} not found")
    return backfill


def cancel(caller: Caller, backfill_id: int) -> Backfill:
    """Stop dispatching; runs dispatched and not started end failed CANCELLED (a started run finishes)."""
    backfill = visible(caller, backfill_id)
    for _ in range(5):
        if backfill.state != "running":
            break
        saved = backfill_store.save(replace(backfill, state="cancelled"), backfill)
        if saved is not None:
            backfill = saved
            break
        backfill = visible(caller, backfill_id)
    if backfill.state == "cancelled":
        now = now_ms()
        for execution in _runs(backfill).values():
            if execution.status == "pending" and execution.attempt == 0:
                execution_store.fail(execution, now, CANCELLED, "the backfill was cancelled before this run started")
    return backfill


def _runs(backfill: Backfill) -> dict[int, Any]:
    skipped = set(backfill.skipped)
    dispatched = [slot for slot in backfill.slots[: backfill.next] if slot not in skipped]
    found = execution_store.get_many(backfill.job_id, dispatched)
    return {slot: execution for slot, execution in found.items() if execution.trigger == "backfill"}


def to_api(backfill: Backfill) -> dict[str, Any]:
    runs = _runs(backfill)
    statuses = Counter(execution.status for execution in runs.values())
    cancelled = sum(1 for e in runs.values() if e.status == "failed" and (e.error or {}).get("code") == CANCELLED)
    skipped = set(backfill.skipped)
    undispatched = sum(1 for slot in backfill.slots[backfill.next :] if slot not in skipped)
    return {
        "id": backfill.id,
        "jobId": backfill.job_id,
        "from": iso(backfill.start),
        "to": iso(backfill.end),
        "status": backfill.state,
        "perMinute": backfill.per_minute,
        "maxRuns": backfill.max_runs,
        "total": len(backfill.slots),
        "queued": statuses["pending"] + (undispatched if backfill.state == "running" else 0),
        "running": statuses["running"],
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"] - cancelled,
        "skipped": len(skipped),
        "cancelled": cancelled + (undispatched if backfill.state == "cancelled" else 0),
        "createdAt": iso(backfill.created_at),
        "createdBy": backfill.created_by,
    }
