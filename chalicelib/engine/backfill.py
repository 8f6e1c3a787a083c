"""A backfill's paced dispatch: each step claims the next minute's share of its slots (`perMinute`) with one
conditional update of its cursor, records each slot's run as `pending` (trigger `backfill`; a slot that already has
a run is skipped and counted, so (job, slot) still runs once), sends the runs spread over the minute, and sends
itself again a minute later while slots remain. A cancelled backfill's steps stop; runs not started are ended.

A step that dies after its claim and before its sends leaves those slots unsent (at most one minute's share); the
claim comes first because a slot dispatched twice is worse than one the user sees missing and can backfill again.
"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.clock import now_ms
from chalicelib.observability import count
from chalicelib.observability import logger as log
from chalicelib.queue import BackfillMessage, RunMessage, send
from chalicelib.store import backfills as backfill_store
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.backfills import Backfill

STEP_SECONDS = 60


def step(message: BackfillMessage) -> int:
    """Dispatch the next share of the backfill's slots; returns how many runs were sent."""
    backfill = backfill_store.get(message.backfill_id)
    if backfill is None or backfill.state != "running":
        return 0
    job = job_store.get(backfill.job_id)
    share = backfill.slots[backfill.next : backfill.next + backfill.per_minute]
    done = job is None or backfill.next + len(share) >= len(backfill.slots)
    claimed = backfill_store.save(replace(backfill, next=backfill.next + len(share),
                                          state="done" if done else "running"), backfill)  # fmt: skip
    if claimed is None or job is None:
        return 0  # another delivery took this step, or the job is gone
    now, outgoing, skipped = now_ms(), [], []
    for index, slot in enumerate(share):
        if execution_store.create_pending(job.id, job.application_id, slot, "backfill", now,
                                          backfill.created_by) is None:  # fmt: skip
            skipped.append(slot)
            continue
        message_ = RunMessage(job.id, slot, "backfill", job.application_id, dispatched_at=now,
                              timeout=job.timeout_ms // 1000)  # fmt: skip
        outgoing.append((message_, index * STEP_SECONDS // backfill.per_minute))
    if skipped:
        _count_skipped(claimed, skipped)
    failed = send(outgoing)
    for refused in failed:
        execution = execution_store.get(refused.job_id, refused.slot)
        if execution is not None:
            execution_store.fail(execution, now_ms(), "DISPATCH_FAILED", "the run queue refused it")
    if not done:
        send([(message, STEP_SECONDS)])
    sent = len(outgoing) - len(failed)
    count("BackfillRuns", sent)
    remaining = len(backfill.slots) - claimed.next
    log.info("backfill step", extra={"backfillId": backfill.id, "sent": sent, "skipped": len(skipped),
                                     "remaining": remaining})  # fmt: skip
    return sent


def _count_skipped(backfill: Backfill, slots: list[int]) -> None:
    for _ in range(5):
        if backfill_store.save(replace(backfill, skipped=[*backfill.skipped, *slots]), backfill) is not None:
            return
        fresh = backfill_store.get(backfill.id)
        if fresh is None:
            return
        backfill = fresh
