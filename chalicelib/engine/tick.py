"""The minute tick: find jobs whose next slot is near in the sparse due index, send each of their slots of the
next dispatch window (up to SQS's 15-minute delay) to the invoker queue, and move their cursor past them.

Per job, in this order (no transactions, no execution written; a crash between steps is repaired):
  1. send one SQS message per slot of the window, each delayed until its slot's second (delays counted as
     each batch goes out, nearest slot first)
  2. advance the job's nextRunAt past those slots, if it still holds the value read   -> one write per window
A tick that dies between 1 and 2 sends the same slots again next time: the invoker's claim (a conditional put of
the execution as it starts) runs each (job, slot) once. A slot an edit, disable or delete took away after it was
sent is dropped by the invoker without a write.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib import cron
from chalicelib.clock import now_ms as clock_now_ms
from chalicelib.cron import MISFIRE_GRACE_MS
from chalicelib.engine import late
from chalicelib.observability import count, flush, milliseconds, tracer
from chalicelib.observability import logger as log
from chalicelib.queue import RunMessage, ShardMessage, send, send_for_slots
from chalicelib.settings import get_settings
from chalicelib.store import engine_state
from chalicelib.store import jobs as job_store
from chalicelib.store.records import Job

MAX_SLOTS_PER_JOB = 1_000  # a job firing every second sends 900 slots per window
WORKERS = 16
STALE_SHARD_MS = 60_000  # a fanned-out shard message older than this is left to the next tick


@dataclass
class Plan:
    """The slots of one job that fall before the horizon, and where its cursor goes after them."""

    job: Job
    slots: list[int]
    next_run_at: int | None
    missed: int = 0


@dataclass
class TickReport:
    at: int
    duration_ms: int = 0
    due_jobs: int = 0
    dispatched: int = 0
    failed_sends: int = 0
    shard_messages: int = 0
    advanced: int = 0
    late_alerts: int = 0
    errors: list[str] = field(default_factory=list)


def plan(job: Job, now: int, horizon: int) -> Plan:
    """Slots of `job` in [nextRunAt, horizon); a slot older than the grace is a misfire: one run now, or none."""
    assert job.next_run_at is not None
    first = job.next_run_at
    if job.pattern is None:
        return Plan(job, [first] if first < horizon else [], None if first < horizon else first)
    missed = 0
    if first < now - MISFIRE_GRACE_MS:
        latest = first
        while missed < 100_000:
            following = cron.next_after(job.pattern, job.timezone, latest)
            if following > now:
                break
            latest, missed = following, missed + 1
        if job.spec.misfirePolicy == "skip":  # no run for the missed slots: resume at the next one
            log.info("missed slots skipped", extra={"jobId": job.id, "skipped": missed + 1})
            count("MisfiresSkipped", missed + 1)
            latest, missed = cron.next_after(job.pattern, job.timezone, latest), 0
        first = latest
    slots: list[int] = []
    upcoming = cron.slots(job.pattern, job.timezone, first)
    slot = first  # the cursor is the next slot to send; the calendar gives the ones after it
    while slot < horizon and len(slots) < MAX_SLOTS_PER_JOB:
        slots.append(slot)
        slot = next(upcoming)
    return Plan(job, slots, slot, missed)


def _messages(item: Plan, now: int) -> list[RunMessage]:
    job = item.job
    timeout = job.timeout_ms // 1000
    return [
        RunMessage(
            job.id,
            slot,
            "schedule",
            job.application_id,
            dispatched_at=now,
            timeout=timeout,
            missed=item.missed if index == 0 and item.missed else None,
        )
        for index, slot in enumerate(item.slots)
    ]


def _advance(item: Plan) -> bool:
    """Step 2: move the cursor past the sent slots (a one-off job leaves the due index)."""
    return job_store.advance(item.job, item.next_run_at)


def _dispatch(plans: list[Plan], now: int, pool: ThreadPoolExecutor, report: TickReport) -> None:
    """Steps 1-2 for these plans; a job with a slot the queue refused keeps its cursor (the next tick re-sends)."""
    outgoing = [message for item in plans for message in _messages(item, now)]
    failed = {message.job_id for message in send_for_slots(outgoing, pool)}
    report.failed_sends += sum(1 for message in outgoing if message.job_id in failed)
    report.dispatched += sum(1 for message in outgoing if message.job_id not in failed)
    ready = [item for item in plans if item.job.id not in failed]
    report.advanced += sum(pool.map(_advance, ready))


def _horizons(now: int) -> tuple[int, int]:
    """(due before, dispatch before): a job is picked up when its cursor is within the tick's lookahead, and then
    sends a whole window, so a per-minute job's cursor moves once every ~15 runs."""
    settings = get_settings()
    return now + settings.tick_lookahead_seconds * 1000, now + settings.dispatch_window_seconds * 1000


def _dispatch_shards(shards: list[int], now: int, report: TickReport) -> None:
    """Query these due-index shards and dispatch what is due, with the tick's thread pool."""
    due_before, horizon = _horizons(now)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        found = pool.map(lambda shard: job_store.due(shard, due_before), shards)
        plans = [plan(job, now, max(horizon, due_before)) for jobs in found for job in jobs]
        report.due_jobs += len(plans)
        _dispatch(plans, now, pool, report)


def _fan_out(now: int, report: TickReport) -> None:
    """TICK_FANOUT: one message per due-index shard on the invoker queue, so the invoker function's
    concurrency does the dispatching and no single tick has to send every due run in its minute."""
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
    report.late_alerts = late.check(now)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    engine_state.flush_outcomes()
    engine_state.record_tick(report.at, report.duration_ms, report.dispatched)
    _observe(report, now, shard=None)
    flush()
    return report


@tracer.capture_method(capture_response=False)
def tick_shard(message: ShardMessage) -> TickReport:
    """One shard of a fanned-out tick, run by the invoker function. Dispatches as of now (the message may
    have waited in the queue); a message older than the lookahead's margin is dropped, since the next
    tick covers its shard. The invoker's claims make a duplicate delivery harmless."""
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
    figures = {"dueJobs": report.due_jobs, "dispatched": report.dispatched, "advanced": report.advanced,
               "shardMessages": report.shard_messages, "sendFailures": report.failed_sends,
               "durationMs": report.duration_ms}  # fmt: skip
    log.info("tick" if shard is None else "tick shard", extra={"tickAt": now, "shard": shard, **figures})
    milliseconds("TickDuration" if shard is None else "TickShardDuration", report.duration_ms)
    count("Dispatched", report.dispatched)
    count("SendFailures", report.failed_sends)


def dispatch_soon(job: Job) -> int:
    """After an API write: send the job's window now when its next slot comes before the next tick could (the
    tick's second is arbitrary). The invoker's claim runs each slot once, so sending twice is harmless."""
    now = clock_now_ms()
    due_before, horizon = _horizons(now)
    if not job.enabled or job.next_run_at is None or job.next_run_at >= due_before:
        return 0
    report = TickReport(at=now)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            _dispatch([plan(job, now, horizon)], now, pool, report)
    except Exception:  # noqa: BLE001 - the next tick dispatches it; the API write has succeeded
        log.exception("early dispatch failed; the next tick will dispatch", extra={"jobId": job.id})
    return report.dispatched
