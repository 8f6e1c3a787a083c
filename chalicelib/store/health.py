"""A job's health, derived from its newest runs: nothing is written per run to know it.

A run *counts* when it finished (succeeded or failed) and really ran: a slot recorded only as skipped (overlap, or
its job disabled or deleted before it started) is not a run. Runs are ordered by slot, the order the schedule
gives them (a manual run's slot is its trigger time; a backfilled run counts at its slot).

`late` comes from the schedule: the newest slot at least `alerts.lateAfterSeconds` old (and after the job's last
change) that has no record has not started. A record is written as a run is claimed, so a record means started.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import cron
from chalicelib.store.executions import FAILED, FINAL, SUCCEEDED
from chalicelib.store.records import Execution, Job

WINDOW = 20  # the newest records GET /jobs and GET /jobs/{id} read per job: one Query
SKIPPED_CODES = frozenset({"SKIPPED_OVERLAP", "JOB_DELETED", "JOB_DISABLED", "DISPATCH_FAILED"})
LATE_LOOK_BACK_MS = 15 * 60_000  # how far back the newest late slot is looked for
MAX_SLOTS_WALKED = 1_000


@dataclass(frozen=True)
class Health:
    state: str  # ok, failing, late, unknown
    consecutive_failures: int
    since: int | None  # the slot of the first of those failures
    last_success_at: int | None


def counts(execution: Execution) -> bool:
    """Whether the record is a run that finished (a skipped slot is recorded as failed with a skip code)."""
    if execution.status not in FINAL:
        return False
    return execution.status == SUCCEEDED or (execution.error or {}).get("code") not in SKIPPED_CODES


def streak(newest_first: list[Execution]) -> list[Execution]:
    """The failed runs that lead the history (newest first), up to the newest success."""
    failures: list[Execution] = []
    for execution in newest_first:
        if not counts(execution):
            continue
        if execution.status != FAILED:
            break
        failures.append(execution)
    return failures


def late_slot(job: Job, now: int) -> int | None:
    """The newest slot that should have started `alerts.lateAfterSeconds` ago (after the job's last change, within
    the look-back), or None: the job has no lateness rule, is disabled (paused) or done, or has no such slot. A slot
    outside its startAt/endAt window is none of its slots, and a jittered slot is due at its planned start."""
    rule = job.spec.alerts
    if rule is None or rule.lateAfterSeconds is None or not job.enabled or job.completed_at is not None:
        return None
    deadline = now - rule.lateAfterSeconds * 1000
    after = max(job.updated_at, deadline - LATE_LOOK_BACK_MS)
    if job.pattern is None:
        return job.run_at if job.run_at is not None and after < job.run_at <= deadline else None
    newest = None
    for walked, slot in enumerate(cron.slots(job.pattern, job.timezone, after)):
        if slot > deadline or walked >= MAX_SLOTS_WALKED:
            break
        if job.in_window(slot) and job.planned_at(slot) <= deadline:
            newest = slot
    return newest


def derive(job: Job, newest_first: list[Execution], now: int) -> Health:
    """Health from the job's newest records (as many as were read) and its schedule."""
    failures = streak(newest_first)
    success = next((e for e in newest_first if counts(e) and e.status == SUCCEEDED), None)
    since = failures[-1].slot if failures else None
    last_success = success.finished_at if success else None
    slot = late_slot(job, now)
    oldest = newest_first[-1].slot if newest_first else None
    if (
        slot is not None
        and all(e.slot != slot for e in newest_first)
        and (oldest is None or oldest <= slot or len(newest_first) < WINDOW)
    ):
        return Health("late", len(failures), since, last_success)
    threshold = job.spec.alerts.afterFailures if job.spec.alerts else 1
    if failures and len(failures) >= threshold:
        return Health("failing", len(failures), since, last_success)
    if not failures and success is None:
        return Health("unknown", 0, None, None)
    return Health("ok", len(failures), since, last_success)
