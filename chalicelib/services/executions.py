"""Executions: manual trigger, history, lookup and stats, within the caller's tenancy."""

from __future__ import annotations

import statistics
from typing import Any

from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms
from chalicelib.engine.queue import RunMessage, send
from chalicelib.engine.tick import BACKLOG_AFTER_MS
from chalicelib.errors import ApiError, NotFound, TooManyRequests
from chalicelib.ids import slot_of
from chalicelib.services import jobs as job_service
from chalicelib.services import tenancy
from chalicelib.settings import get_settings
from chalicelib.store import engine_state, keys
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.models import ExecutionModel, JobModel

LAG_SAMPLE = 500


class Unavailable(ApiError):
    status, code = 503, "UNAVAILABLE"


def trigger(caller: Caller, job_id: int) -> ExecutionModel:
    """A manual run now: a pending execution at the trigger's millisecond, sent without delay. Limited per job
    and per application each minute, so a job that triggers itself or another (through GATEWAY_URL) cannot
    loop: 429 with Retry-After."""
    job, _ = job_service.get_visible(caller, job_id)
    _take_trigger(int(job.id), int(job.applicationId))
    for attempt in range(5):
        slot = now_ms() + attempt
        execution = execution_store.create_pending(
            int(job.id), int(job.applicationId), slot, "manual", now_ms(), caller.user
        )
        if execution is not None:
            break
    else:
        raise Unavailable("could not record the run; retry")
    if send([(RunMessage(int(job.id), slot, "manual", int(execution.id), dispatched_at=now_ms()), 0)]):
        execution_store.fail_pending(int(job.id), slot, now_ms(), "DISPATCH_FAILED", "the run queue refused it")
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


def visible(caller: Caller, execution: ExecutionModel | None, label: int) -> ExecutionModel:
    if execution is None or int(execution.applicationId) not in set(tenancy.visible_application_ids(caller)):
        raise NotFound(f"execution {label} not found")
    return execution


def get(caller: Caller, execution_id: int) -> ExecutionModel:
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
) -> tuple[list[ExecutionModel], bool]:
    """A job's history, newest first; still readable after the job is deleted (then each run's application
    decides who may read it)."""
    job = job_store.get(job_id)
    if job is not None:
        job_service.get_visible(caller, job_id)
    found, more = execution_store.list_for_job(job_id, before_slot, limit, status, from_ms, until_ms)
    if job is None:
        allowed = set(tenancy.visible_application_ids(caller))
        if not found or any(int(item.applicationId) not in allowed for item in found):
            raise NotFound(f"job {job_id} not found")
    return found, more


def list_recent(caller: Caller, query: Any, before_id: int | None) -> tuple[list[ExecutionModel], bool]:
    """Newest first across the caller's applications, or one application, or one job."""
    if query.jobId is not None:
        before_slot = slot_of(before_id) if before_id else None
        return list_for_job(caller, query.jobId, query.limit, query.status, before_slot)
    if query.applicationId is not None:
        app_ids = [int(tenancy.visible_application(caller, query.applicationId).id)]
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
    app_ids = tenancy.visible_application_ids(caller)
    now = now_ms()
    total = enabled = 0
    for app_id in app_ids:
        total += JobModel.by_application.count(app_id)
        enabled += JobModel.by_application.count(app_id, filter_condition=JobModel.enabled == True)  # noqa: E712
    allowed = set(app_ids)
    inflight = [item for item in execution_store.inflight() if int(item.applicationId) in allowed]
    recent, _ = execution_store.list_recent(app_ids, None, LAG_SAMPLE, None)
    lags = sorted(int(item.lagMs) for item in recent if item.lagMs is not None and item.trigger == "schedule")
    tick = engine_state.last_tick() if caller.is_admin else {}  # the engine is global: admins only
    return {
        "jobs": {"total": total, "enabled": enabled},
        "executions": {
            "last24h": engine_state.outcome_counts(app_ids, now, ("succeeded", "failed", "skipped")),
            "pending": sum(1 for item in inflight if item.status == "pending"),
            "running": sum(1 for item in inflight if item.status == "running"),
        },
        "engine": {
            "lastTickAt": iso(tick.get("lastTickAt")),
            "lastTickDurationMs": tick.get("lastTickDurationMs"),
            "lastTickDispatched": tick.get("lastTickDispatched"),
            "backlog": sum(1 for i in inflight if i.status == "pending" and int(i.slot) < now - BACKLOG_AFTER_MS),
            "fireLagMs": {
                "p50": _percentile(lags, 0.50),
                "p95": _percentile(lags, 0.95),
                "p99": _percentile(lags, 0.99),
                "samples": len(lags),
            },
        },
    }
