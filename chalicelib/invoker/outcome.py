"""The one way a run's start and end are announced, whichever path got there (the invoker, a cancellation, the
dead-letter queue): its count in the stats and its event on the bus."""

from __future__ import annotations

from typing import Any

from chalicelib import events
from chalicelib.codes import Counted
from chalicelib.invoker import alerts
from chalicelib.settings import get_settings
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.records import Execution, Job
from chalicelib.views import execution_view, job_snapshot


def _template(execution: Execution, job: Job | None) -> dict[str, Any] | None:
    if job is not None and job.snapshot == execution.snapshot:
        return job_snapshot(job)
    return job_store.snapshot(execution.job_id, execution.snapshot) if execution.snapshot else None


def run_started(execution: Execution, job: Job) -> None:
    """`scheduler.job.execution.started`, when EXECUTION_EVENTS asks for it (not by default: $1 per million)."""
    if "started" in get_settings().execution_events:
        events.publish_execution("started", execution_view(execution, _template(execution, job)))


def run_ended(execution: Execution, counted_as: Counted, job: Job | None = None) -> None:
    """Count the ended run in the stats as `counted_as` (succeeded, failed or skipped) and put its event on the
    bus; `execution` is the record as its final write left it."""
    engine_state.count_outcome(execution.application_id, counted_as, execution.finished_at or execution.created_at)
    kind = "succeeded" if execution.status == execution_store.SUCCEEDED else "failed"
    if kind in get_settings().execution_events:
        events.publish_execution(kind, execution_view(execution, _template(execution, job)))
    if counted_as != "skipped":  # a run that ran: its job's alerts (the dead-letter path knows no job: read it)
        alerts.after_run(execution, job if job is not None else job_store.get(execution.job_id))


def skipped(application_id: int, at_ms: int) -> None:
    """A slot that was sent but did not run and left no record (its job was deleted, disabled or rescheduled
    after it was sent, or it was missed): counted as skipped."""
    engine_state.count_outcome(application_id, "skipped", at_ms)
