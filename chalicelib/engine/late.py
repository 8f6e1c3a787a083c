"""The engine's own dead-man check: each tick, every job with `alerts.lateAfterSeconds` whose newest slot that
old has not started (no execution record: a run is claimed as it starts) sends one `late` alert.

It runs in the tick, not the invoker, so it catches what stops runs from starting: a stuck queue, a stopped or
throttled invoker, a tick that was down (its missed slots). Only the jobs in the late-watch set are read (one
BatchGetItem of the set, one of those jobs, one of their slots' records); a job without the rule costs nothing.
Each slot is claimed by a conditional put (`late#{jobId}#{slot}`), so ticks that overlap or retry alert once.
"""

from __future__ import annotations

from chalicelib.clock import iso
from chalicelib.observability import count
from chalicelib.observability import logger as log
from chalicelib.queue import AlertMessage, send
from chalicelib.store import alerts as alert_store
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.health import late_slot
from chalicelib.views import alert_body


def check(now: int) -> int:
    """Send the `late` alerts due at `now`; returns how many. Never raises: the tick's dispatching comes first."""
    try:
        return _check(now)
    except Exception:  # noqa: BLE001 - a failed check is repeated by the next tick (its look-back covers it)
        log.exception("late check failed; the next tick checks again")
        return 0


def _check(now: int) -> int:
    watched = alert_store.watched()
    if not watched:
        return 0
    jobs = job_store.get_many(watched)
    for gone in watched - set(jobs):
        alert_store.unwatch(gone)
    due = {job_id: slot for job_id, job in jobs.items() if (slot := late_slot(job, now)) is not None}
    started = execution_store.started(list(due.items()))
    messages: list[tuple[AlertMessage, int]] = []
    claimed: dict[str, tuple[int, int]] = {}
    for job_id, slot in due.items():
        if (job_id, slot) in started or not alert_store.claim_late(job_id, slot):
            continue
        job = jobs[job_id]
        rule = job.spec.alerts
        assert rule is not None
        body = alert_body("late", job, now, scheduledFor=iso(slot), lateAfterSeconds=rule.lateAfterSeconds)
        message = AlertMessage(f"alert_{job_id}_{slot}_late", job.application_id, body)
        messages.append((message, 0))
        claimed[message.alert_id] = (job_id, slot)
    failed = send(messages)
    for message in failed:  # claimed but not queued: the next tick claims it again
        alert_store.release_late(*claimed[message.alert_id])
    sent = len(messages) - len(failed)
    if sent:
        count("LateAlerts", sent)
        log.info("late alerts queued", extra={"alerts": sent})
    return sent
