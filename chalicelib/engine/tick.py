"""The minute tick: find due slots in the sparse due index and hand each to the invoker queue, once.

Per slot, in this order (no transactions; a crash between steps is repaired by the next tick):
  1. put the execution (job, slot) as pending, if it does not exist   -> claims the slot
  2. send one SQS message, delayed until the slot's second             -> the invoker starts on time
  3. advance the job's nextRunAt, if it still holds the old value      -> the slot leaves the index
If step 1 finds the execution already pending (an earlier tick died after it), the message is sent
again; the invoker's pending -> running condition drops a second delivery.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib.clock import now_ms as clock_now_ms
from chalicelib.engine import cron
from chalicelib.engine.queue import RunMessage, delay_for, send
from chalicelib.settings import get_settings
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.models import JobModel

log = logging.getLogger(__name__)
MISFIRE_GRACE_MS = 60_000
MAX_SLOTS_PER_JOB = 120
WORKERS = 16


@dataclass
class Plan:
    """The slots of one job that fall before the horizon, and where its nextRunAt goes after them."""

    job: JobModel
    slots: list[int]
    next_run_at: int | None
    missed: int = 0


@dataclass
class TickReport:
    at: int
    duration_ms: int = 0
    due_jobs: int = 0
    dispatched: int = 0
    resent: int = 0
    failed_sends: int = 0
    advanced: int = 0
    errors: list[str] = field(default_factory=list)


def plan(job: JobModel, now: int, horizon: int) -> Plan:
    """Slots of `job` in [nextRunAt, horizon); a slot older than the grace is a misfire: one run, now."""
    first = int(job.nextRunAt)
    if job.pattern is None:
        return Plan(job, [first], None)
    missed = 0
    if first < now - MISFIRE_GRACE_MS:
        latest = first
        while missed < 100_000:
            following = cron.next_after(job.pattern, job.timezone, latest)
            if following > now:
                break
            latest, missed = following, missed + 1
        first = latest
    slots, slot = [], first
    while slot < horizon and len(slots) < MAX_SLOTS_PER_JOB:
        slots.append(slot)
        slot = cron.next_after(job.pattern, job.timezone, slot)
    return Plan(job, slots, slot, missed)


def _due(shard: int, horizon: int) -> list[JobModel]:
    return list(JobModel.due.query(shard, JobModel.nextRunAt < horizon))


def _claim(item: Plan, now: int) -> tuple[list[tuple[RunMessage, int]], int]:
    """Step 1 for every slot of a job: the messages to send, and how many are re-sends."""
    messages, resent = [], 0
    job = item.job
    for index, slot in enumerate(item.slots):
        created = execution_store.create_pending(int(job.id), int(job.applicationId), slot, "schedule", now)
        if created is None:
            existing = execution_store.get(int(job.id), slot)
            if existing is None or existing.status != execution_store.PENDING:
                continue
            resent += 1
        elif index == 0 and item.missed:
            created.update(actions=[created.__class__.missedSlots.set(item.missed)])
        messages.append((RunMessage(int(job.id), slot), delay_for(slot, now)))
    return messages, resent


def _advance(item: Plan) -> bool:
    """Step 3: move nextRunAt past the dispatched slots (a one-off job leaves the due index)."""
    job = item.job
    old = int(job.nextRunAt)
    done = item.next_run_at is None
    actions = [JobModel.dueShard.remove()] if done else [JobModel.nextRunAt.set(item.next_run_at)]
    return job_store.update(job, actions, JobModel.nextRunAt == old)


def tick(now: int | None = None) -> TickReport:
    """One pass of the engine; safe to run concurrently with itself or to retry."""
    settings = get_settings()
    started = time.monotonic()
    now = now if now is not None else clock_now_ms()
    horizon = now + settings.tick_lookahead_seconds * 1000
    report = TickReport(at=now)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        shards = pool.map(lambda shard: _due(shard, horizon), range(settings.due_shards))
        plans = [plan(job, now, horizon) for jobs in shards for job in jobs]
        report.due_jobs = len(plans)
        claimed = list(pool.map(lambda item: _claim(item, now), plans))
        outgoing = [message for messages, _ in claimed for message in messages]
        report.resent = sum(resent for _, resent in claimed)
        failed = {(m.job_id, m.slot) for m in send(outgoing)}
        report.failed_sends = len(failed)
        report.dispatched = len(outgoing) - len(failed)
        ready = [item for item in plans if not any((int(item.job.id), s) in failed for s in item.slots)]
        report.advanced = sum(pool.map(_advance, ready))
    report.duration_ms = int((time.monotonic() - started) * 1000)
    engine_state.record_tick(report.at, report.duration_ms, report.dispatched)
    log.info(
        "tick at %d: %d due jobs, %d dispatched (%d re-sent), %d send failures, %d ms",
        now,
        report.due_jobs,
        report.dispatched,
        report.resent,
        report.failed_sends,
        report.duration_ms,
    )
    return report
