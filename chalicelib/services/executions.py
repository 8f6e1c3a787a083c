"""Executions: manual trigger, history, lookup and stats, within the caller's tenancy."""

from __future__ import annotations

import statistics
from typing import Any

from chalicelib import queue
from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms
from chalicelib.errors import NotFound, TooManyRequests, Unavailable
from chalicelib.ids import slot_of
from chalicelib.queue import RunMessage, send
from chalicelib.services import jobs as job_service
from chalicelib.services import tenancy
from chalicelib.settings import get_settings
from chalicelib.store import engine_state, keys
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.records import Execution
from chalicelib.views import execution_view

LAG_SAMPLE = 200


def to_api(execution: Execution) -> dict[str, Any]:
    """An execution as clients see it, with its job's configuration as run."""
    template = job_store.snapshot(execution.job_id, execution.snapshot) if execution.snapshot else None
    return execution_view(execution, template)


def trigger(caller: Caller, job_id: int) -> Execution:
    """A manual run now: a pending execution at the trigger's millisecond, sent without delay. Limited per job
    and per application each minute, so a job that triggers itself or another (through GATEWAY_URL) cannot
    loop: 429 with Retry-After."""
    job, _ = job_service.get_visible(caller, job_id)
    _take_trigger(job.id, job.application_id)
    for attempt in range(5):
        slot = now_ms() + attempt
        execution = execution_store.create_pending(job.id, job.application_id, slot, "manual", now_ms(), caller.user)
        if execution is not None:
            break
    else:
        raise Unavailable("could not record the run; retry")
    message = RunMessage(job.id, slot, "manual", job.application_id, dispatched_at=now_ms(),
                         timeout=job.timeout_ms // 1000)  # fmt: skip
    if send([(message, 0)]):
        execution_store.fail(execution, now_ms(), "DISPATCH_FAILED", "the run queue refused it")
        raise Unavailable("the run queue is not reachable; the run was recorded as failed")
    return execution


def _take_trigger(job_id: int, application_id: int) -> None:
    settings = get_settings()
    now = now_ms()
    minute = now // 60_000
    retry_after = {"Retry-After": str(max(1, 60 - (now // 1000) % 60))}
    if not keys.take(f"rate#trigger#app#{application_id}#{minute}", settings.trigger_limit_per_application, 120):
        raise TooManyRequests(f"at most {settings.trigger_limit_per_application} manual runs a minute per "
                              "application; retry later", headers=retry_after)  # fmt: skip
    if not keys.take(f"rate#trigger#job#{job_id}#{minute}", settings.trigger_limit_per_job, 120):
        raise TooManyRequests(f"at most {settings.trigger_limit_per_job} manual runs a minute per job; retry later",
                              headers=retry_after)  # fmt: skip


def visible(caller: Caller, execution: Execution | None, label: int) -> Execution:
    if execution is None or execution.application_id not in set(tenancy.visible_application_ids(caller)):
        raise NotFound(f"execution {label} not found")
    return execution


def get(caller: Caller, execution_id: int) -> Execution:
    execution = execution_store.get_by_id(execution_id, tenancy.visible_application_ids(caller))
    return visible(caller, execution, execution_id)


def list_for_job(
    caller: Caller,
    job_id: int,
    limit: int,
    status: str | None = None,
    before_slot: int | None = None,
    from_ms: int | None = None,
    until_ms: int | None = None,
) -> tuple[list[Execution], bool]:
    """A job's history, newest first; still readable after the job is deleted (then each run's application
    decides who may read it)."""
    job = job_store.get(job_id)
    if job is not None:
        job_service.get_visible(caller, job_id)
    found, more = execution_store.list_for_job(job_id, before_slot, limit, status, from_ms, until_ms)
    if job is None:
        allowed = set(tenancy.visible_application_ids(caller))
        if not found or any(item.application_id not in allowed for item in found):
            raise NotFound(f"job {job_id} not found")
    return found, more


def list_recent(caller: Caller, query: Any, before_id: int | None) -> tuple[list[Execution], bool]:
    """Newest first across the caller's applications, or one application, or one job."""
    if query.jobId is not None:
        before_slot = slot_of(before_id) if before_id else None
        return list_for_job(caller, query.jobId, query.limit, query.status, before_slot)
    if query.applicationId is not None:
        app_ids = [tenancy.visible_application(caller, query.applicationId).id]
    else:
        app_ids = tenancy.visible_application_ids(caller)
    return execution_store.list_recent(app_ids, before_id, query.limit, query.status)


def _percentile(values: list[int], fraction: float) -> int | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(fraction * 100) - 1])


def stats(caller: Caller) -> dict[str, Any]:
    """Figures from cheap sources: job counts and run counts from counters, the queue's own approximate sizes,
    fire lag from the last LAG_SAMPLE runs. Nothing here reads more as jobs or runs grow."""
    app_ids = tenancy.visible_application_ids(caller)
    total, enabled = job_store.counts(app_ids)
    recent, _ = execution_store.list_recent(app_ids, None, LAG_SAMPLE, None)
    lags = sorted(item.lag_ms for item in recent if item.lag_ms is not None and item.trigger == "schedule")
    tick = engine_state.last_tick() if caller.is_admin else {}  # the engine and its queue are global: admins only
    sizes = queue.counts() if caller.is_admin else None
    return {
        "jobs": {"total": total, "enabled": enabled},
        "executions": {"last24h": engine_state.outcome_counts(app_ids, now_ms(), ("succeeded", "failed", "skipped"))},
        "engine": {
            "lastTickAt": iso(tick.get("lastTickAt")),
            "lastTickDurationMs": tick.get("lastTickDurationMs"),
            "lastTickDispatched": tick.get("lastTickDispatched"),
            "queue": sizes,
            "fireLagMs": {
                "p50": _percentile(lags, 0.50),
                "p95": _percentile(lags, 0.95),
                "p99": _percentile(lags, 0.99),
                "samples": len(lags),
            },
        },
    }
