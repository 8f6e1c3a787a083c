"""The minute tick: find due slots in the sparse due index and hand each to the invoker queue, once.

Per slot, in this order (no transactions; a crash between steps is repaired by the next tick):
  1. put the execution (job, slot) as pending, if it does not exist   -> claims the slot
  2. send one SQS message, delayed until the slot's second (counted     -> the invoker starts on time
     as each batch goes out, nearest slot first)
  3. advance the job's nextRunAt, if it still holds the old value      -> the slot leaves the index
If step 1 finds the execution already pending (an earlier tick died after it), the message is sent
again; the invoker's pending -> running condition drops a second delivery.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib.clock import now_ms as clock_now_ms
from chalicelib.engine import cron
from chalicelib.engine.queue import RunMessage, ShardMessage, send, send_for_slots
from chalicelib.engine.sweep import sweep
from chalicelib.observability import count, flush, milliseconds, tracer
from chalicelib.observability import logger as log
from chalicelib.settings import get_settings
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.models import JobModel

MISFIRE_GRACE_MS = 60_000
BACKLOG_AFTER_MS = 60_000  # a run still in flight a minute after its slot is late
MAX_SLOTS_PER_JOB = 120
WORKERS = 16
STALE_SHARD_MS = 60_000  # a fanned-out shard message older than this is left to the next tick


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
    claim_failures: int = 0
    shard_messages: int = 0
    advanced: int = 0
    backlog: int = 0
    redispatched: int = 0
    lost: int = 0
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
        if job.misfirePolicy == "skip":  # no run for the missed slots: resume at the next one
            log.info("missed slots skipped", extra={"jobId": int(job.id), "skipped": missed + 1})
            count("MisfiresSkipped", missed + 1)
            latest, missed = cron.next_after(job.pattern, job.timezone, latest), 0
        first = latest
    slots: list[int] = []
    slot = first
    while slot < horizon and len(slots) < MAX_SLOTS_PER_JOB:
        slots.append(slot)
        slot = cron.next_after(job.pattern, job.timezone, slot)
    return Plan(job, slots, slot, missed)


def _due(shard: int, horizon: int) -> list[JobModel]:
    return list(JobModel.due.query(shard, JobModel.nextRunAt < horizon))


def _claim(item: Plan, now: int) -> tuple[list[RunMessage], int] | None:
    """Step 1 for every slot of a job: the messages to send and how many are re-sends; None when the store
    refused a claim (throttled past its retries): the job keeps its nextRunAt and the next tick tries again."""
    try:
        return _claim_slots(item, now)
    except Exception:  # noqa: BLE001 - one job's failing write must not hold back every other due job
        log.exception("claim failed; the next tick retries this job", extra={"jobId": int(item.job.id)})
        return None


def _claim_slots(item: Plan, now: int) -> tuple[list[RunMessage], int]:
    messages, resent = [], 0
    job = item.job
    for index, slot in enumerate(item.slots):
        missed = item.missed if index == 0 else None  # the misfire run carries the count, in the claim itself
        execution = execution_store.create_pending(
            int(job.id), int(job.applicationId), slot, "schedule", now, missed_slots=missed
        )
        if execution is None:
            execution = execution_store.get(int(job.id), slot)
            if execution is None or execution.status != execution_store.PENDING:
                continue
            resent += 1
        keys = {"jobId": int(job.id), "executionId": int(execution.id), "applicationId": int(job.applicationId)}
        log.debug("dispatching", extra={**keys, "slot": slot})
        message = RunMessage(int(job.id), slot, "schedule", int(execution.id), dispatched_at=now)
        messages.append(message)
    return messages, resent


def _advance(item: Plan) -> bool:
    """Step 3: move nextRunAt past the dispatched slots (a one-off job leaves the due index)."""
    job = item.job
    old = int(job.nextRunAt)
    if item.next_run_at is None:
        return job_store.update(job, [JobModel.dueShard.remove()], JobModel.nextRunAt == old)
    return job_store.update(job, [JobModel.nextRunAt.set(item.next_run_at)], JobModel.nextRunAt == old)


def _dispatch(plans: list[Plan], now: int, pool: ThreadPoolExecutor, report: TickReport) -> None:
    """Steps 1-3 for these plans; a job whose send failed keeps its nextRunAt (the next tick repairs it)."""
    results = list(pool.map(lambda item: _claim(item, now), plans))
    claimed = [(item, result) for item, result in zip(plans, results, strict=True) if result is not None]
    report.claim_failures += len(plans) - len(claimed)
    outgoing = [message for _, (messages, _) in claimed for message in messages]
    report.resent += sum(resent for _, (_, resent) in claimed)
    failed = {(m.job_id, m.slot) for m in send_for_slots(outgoing)}
    report.failed_sends += len(failed)
    report.dispatched += len(outgoing) - len(failed)
    ready = [item for item, _ in claimed if not any((int(item.job.id), s) in failed for s in item.slots)]
    report.advanced += sum(pool.map(_advance, ready))


def _horizon(now: int) -> int:
    return now + get_settings().tick_lookahead_seconds * 1000


def _dispatch_shards(shards: list[int], now: int, report: TickReport) -> None:
    """Query these due-index shards and dispatch what is due, with the tick's thread pool."""
    horizon = _horizon(now)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        found = pool.map(lambda shard: _due(shard, horizon), shards)
        plans = [plan(job, now, horizon) for jobs in found for job in jobs]
        report.due_jobs += len(plans)
        _dispatch(plans, now, pool, report)


def _fan_out(now: int, report: TickReport) -> None:
    """TICK_FANOUT: one message per due-index shard on the invoker queue, so the invoker function's
    concurrency does the dispatching and no single tick has to claim every due run in its minute."""
    messages = [(ShardMessage(shard, now), 0) for shard in range(get_settings().due_shards)]
    failed = {message.shard for message in send(messages)}
    report.shard_messages = len(messages) - len(failed)
    if failed:  # those shards are dispatched here, late rather than not at all
        _dispatch_shards(sorted(failed), now, report)


@tracer.capture_method(capture_response=False)
def tick(now: int | None = None) -> TickReport:
    """One pass of the engine; safe to run concurrently with itself or to retry."""
    started = time.monotonic()
    now = now if now is not None else clock_now_ms()
    report = TickReport(at=now)
    if get_settings().tick_fanout:
        _fan_out(now, report)
    else:
        _dispatch_shards(list(range(get_settings().due_shards)), now, report)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    report.backlog = execution_store.count_overdue(now - BACKLOG_AFTER_MS)
    swept = sweep(now)
    engine_state.flush_outcomes()
    report.redispatched, report.lost = swept.redispatched, swept.lost
    engine_state.record_tick(report.at, report.duration_ms, report.dispatched)
    _observe(report, now, shard=None)
    count("Backlog", report.backlog)
    count("Redispatched", report.redispatched)
    count("LostRuns", report.lost)
    flush()
    return report


@tracer.capture_method(capture_response=False)
def tick_shard(message: ShardMessage) -> TickReport:
    """One shard of a fanned-out tick, run by the invoker function. Dispatches as of now (the message may
    have waited in the queue); a message older than the lookahead's margin is dropped, since the next
    tick covers its shard. The claims make a duplicate delivery harmless."""
    started = time.monotonic()
    now = clock_now_ms()
    report = TickReport(at=now)
    if now - message.at > STALE_SHARD_MS:
        log.warning("stale tick shard dropped", extra={"shard": message.shard, "ageMs": now - message.at})
        return report
    _dispatch_shards([message.shard], now, report)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    _observe(report, now, shard=message.shard)
    return report


def _observe(report: TickReport, now: int, shard: int | None) -> None:
    figures = {"dueJobs": report.due_jobs, "dispatched": report.dispatched, "resent": report.resent,
               "shardMessages": report.shard_messages, "sendFailures": report.failed_sends,
               "claimFailures": report.claim_failures, "durationMs": report.duration_ms}  # fmt: skip
    log.info("tick" if shard is None else "tick shard", extra={"tickAt": now, "shard": shard, **figures})
    milliseconds("TickDuration" if shard is None else "TickShardDuration", report.duration_ms)
    count("Dispatched", report.dispatched)
    count("SendFailures", report.failed_sends)
    count("ClaimFailures", report.claim_failures)


def dispatch_soon(job: JobModel) -> int:
    """After an API write: dispatch the job's slots that fall inside the lookahead now, instead of waiting
    for a tick that may come after them (the tick's second is arbitrary). Same claim, so never twice."""
    now = clock_now_ms()
    horizon = _horizon(now)
    if not job.enabled or job.dueShard is None or job.nextRunAt is None or int(job.nextRunAt) >= horizon:
        return 0
    report = TickReport(at=now)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            _dispatch([plan(job, now, horizon)], now, pool, report)
    except Exception:  # noqa: BLE001 - the next tick dispatches it; the API write has succeeded
        log.exception("early dispatch failed; the next tick will dispatch", extra={"jobId": int(job.id)})
    return report.dispatched
