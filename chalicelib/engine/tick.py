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
from dataclasses import dataclass, field, replace

from chalicelib import cron
from chalicelib.clock import now_ms as clock_now_ms
from chalicelib.cron import MISFIRE_GRACE_MS
from chalicelib.engine import backfill, late
from chalicelib.observability import count, flush, milliseconds, tracer
from chalicelib.observability import logger as log
from chalicelib.queue import (
    BackfillMessage,
    EngineMessage,
    ResumeMessage,
    RunMessage,
    ShardMessage,
    delay_for,
    send,
    send_for_slots,
)
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
    resumes: int = 0  # paused jobs whose resume message was sent
    late_alerts: int = 0
    errors: list[str] = field(default_factory=list)


def plan(job: Job, now: int, horizon: int) -> Plan:
    """Slots of `job` in [nextRunAt, horizon) within its startAt/endAt window; a slot older than the grace is a
    misfire: one run now, or none. Past its endAt the job leaves the due index."""
    assert job.next_run_at is not None
    cursor = job.next_run_at
    if job.pattern is None:
        return Plan(job, [cursor] if cursor < horizon else [], None if cursor < horizon else cursor)
    pattern, zone, start, end = job.pattern, job.timezone, job.start_at, job.end_at
    first: int | None = cursor
    missed = 0
    if cursor < now - MISFIRE_GRACE_MS:
        latest = cursor
        while missed < 100_000:
            following = cron.next_in_window(pattern, zone, latest, start, end)
            if following is None or following > now:
                break
            latest, missed = following, missed + 1
        if job.spec.misfirePolicy == "skip":  # no run for the missed slots: resume at the next one
            log.info("missed slots skipped", extra={"jobId": job.id, "skipped": missed + 1})
            count("MisfiresSkipped", missed + 1)
            first, missed = cron.next_in_window(pattern, zone, latest, start, end), 0
        else:
            first = latest
    slots: list[int] = []
    upcoming = cron.slots(pattern, zone, first if first is not None else now)
    slot = first  # the cursor is the next slot to send; the calendar gives the ones after it
    while slot is not None and slot < horizon and len(slots) < MAX_SLOTS_PER_JOB:
        if end is not None and slot >= end:
            slot = None  # past its endAt: no cursor, the job is completed
            break
        if start is None or slot >= start:
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
            planned_at=job.planned_at(slot) if job.spec.jitterSeconds else None,
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
        found = [job for jobs in pool.map(lambda shard: job_store.due(shard, due_before), shards) for job in jobs]
        plans = [plan(job, now, max(horizon, due_before)) for job in found if job.enabled]
        report.due_jobs += len(plans)
        _dispatch(plans, now, pool, report)
        report.resumes += _send_resumes([job for job in found if not job.enabled], now)


# --- pause until ----------------------------------------------------------------------------------------------

RESUME_EARLY_MS = 1_000  # SQS delays are whole seconds: a resume message may come up to a second early


def _send_resumes(paused: list[Job], now: int) -> int:
    """A job paused until a time sits in the due index at that time: each tick that finds it due sends its resume
    message, delayed until then (a lost or failed one is sent again by the next tick; resuming is conditional)."""
    messages = [(ResumeMessage(job.id, job.paused_until), delay_for(job.paused_until, now))
                for job in paused if job.paused_until is not None]  # fmt: skip
    return len(messages) - len(send(messages))


def resume(message: ResumeMessage) -> bool:
    """Enable a job paused until `message.until`, if it still is: its cursor goes back to the first slot after the
    pause began, so `plan` applies its misfirePolicy to the slots it missed (one run now, or none)."""
    now = clock_now_ms()
    job = job_store.get(message.job_id)
    if job is None or job.enabled or job.paused_until != message.until:
        return False  # deleted, enabled, or paused again since the message was sent
    if message.until - now > RESUME_EARLY_MS:
        send([(message, delay_for(message.until, now))])
        return False
    if message.until > now:  # up to a second early: wait for the pause to end, so no slot inside it is run
        time.sleep((message.until - now) / 1000)
        now = clock_now_ms()
    cursor, missed = _resumed_cursor(job, message.until, now)
    resumed = replace(job, spec=job.spec.model_copy(update={"enabled": True}), paused_until=None,
                      paused_reason=None, paused_at=None, next_run_at=cursor, version=job.version + 1,
                      updated_at=now, updated_by=RESUMED_BY)  # fmt: skip
    try:
        job_store.replace(resumed, job, None)
    except job_store.StaleVersion:
        return False  # changed meanwhile: the next tick sends its resume again if it is still paused
    log.info("job resumed", extra={"jobId": job.id, "pausedUntil": message.until, "lateMs": now - message.until})
    count("JobsResumed")
    due_before, horizon = _horizons(now)
    if cursor is not None and cursor < due_before:
        report = TickReport(at=now)
        item = plan(resumed, now, horizon)
        item.missed = max(item.missed, missed)
        with ThreadPoolExecutor(max_workers=2) as pool:
            _dispatch([item], now, pool, report)
    return True


def _resumed_cursor(job: Job, until: int, now: int) -> tuple[int | None, int]:
    """Where a resumed job's cursor goes, and how many slots its pause made it miss beyond the one it runs: the
    slots since the pause began follow its misfirePolicy, however short the pause (`fire_once`: the latest of them
    runs now; `skip`: none, the next slot is the first)."""
    if job.pattern is None:
        return (job.run_at if job.completed_at is None else None), 0
    since = job.paused_at if job.paused_at is not None else until
    pattern, zone, start, end = job.pattern, job.timezone, job.start_at, job.end_at
    cursor = cron.next_in_window(pattern, zone, since - 1, start, end)
    if cursor is None or cursor > now:
        return cursor, 0
    latest, missed = cursor, 0
    while (following := cron.next_in_window(pattern, zone, latest, start, end)) is not None and following <= now:
        latest, missed = following, missed + 1
    if job.spec.misfirePolicy == "skip":
        count("MisfiresSkipped", missed + 1)
        return cron.next_in_window(pattern, zone, latest, start, end), 0
    return latest, missed


RESUMED_BY = "scheduler"


def handle(message: EngineMessage) -> object:
    """The engine's messages on the invoker queue: a tick's shard, a paused job to resume, a backfill's step."""
    if isinstance(message, ResumeMessage):
        return resume(message)
    if isinstance(message, BackfillMessage):
        return backfill.step(message)
    return tick_shard(message)


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
    if not job.enabled and job.paused_until is not None and job.paused_until < due_before:
        return _send_resumes([job], now)  # a short pause: resumed before the next tick could see it
    if not job.enabled or job.next_run_at is None or job.next_run_at >= due_before:
        return 0
    report = TickReport(at=now)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            _dispatch([plan(job, now, horizon)], now, pool, report)
    except Exception:  # noqa: BLE001 - the next tick dispatches it; the API write has succeeded
        log.exception("early dispatch failed; the next tick will dispatch", extra={"jobId": job.id})
    return report.dispatched
