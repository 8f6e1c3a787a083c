"""Executions: one item per (job, slot). Every state change is one conditional write, no transactions:

tick:    put pending            if attribute_not_exists   (claims the slot)
invoker: pending -> running     if status = pending       (drops a duplicate delivery)
invoker: running -> final       if status = running and attempt matches
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.clock import iso
from chalicelib.ids import execution_id
from chalicelib.settings import get_settings
from chalicelib.store.keys import is_condition_failure
from chalicelib.store.models import ExecutionModel

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
FINAL = (SUCCEEDED, FAILED)
FAR_FUTURE_MS = 10 * 365 * 86_400_000


def app_shard(application_id: int, execution_id_: int) -> int:
    """The by-application index key of an execution: its application, and a shard chosen by its id."""
    return application_id * 1000 + execution_id_ % get_settings().app_index_shards


def _app_shards(application_id: int) -> list[int]:
    return [application_id * 1000 + shard for shard in range(get_settings().app_index_shards)]


def _expires_at(now_ms: int) -> int:
    return now_ms // 1000 + get_settings().execution_retention_days * 86_400


def create_pending(
    job_id: int,
    application_id: int,
    slot: int,
    trigger: str,
    now_ms: int,
    created_by: str | None = None,
    missed_slots: int | None = None,
) -> ExecutionModel | None:
    """Claim (job, slot): the pending execution, or None when the slot was already claimed."""
    new_id = execution_id(slot)
    execution = ExecutionModel(
        job_id,
        slot,
        id=new_id,
        applicationId=application_id,
        appShard=app_shard(application_id, new_id),
        status=PENDING,
        trigger=trigger,
        attempt=0,
        createdAt=now_ms,
        createdBy=created_by,
        missedSlots=missed_slots or None,
        dueAt=slot,
        inflightShard=new_id % get_settings().due_shards,
        expiresAt=_expires_at(now_ms),
    )
    try:
        execution.save(condition=ExecutionModel.jobId.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return execution


def to_api(execution: ExecutionModel) -> dict[str, Any]:
    """An execution as clients and events see it (snapshots are stored masked)."""
    body = {
        "id": int(execution.id),
        "jobId": int(execution.jobId),
        "applicationId": int(execution.applicationId),
        "status": execution.status,
        "trigger": execution.trigger,
        "scheduledFor": iso(int(execution.slot)),
        "attempt": int(execution.attempt or 0),
        "attempts": execution.attempts,
        "startedAt": iso(execution.startedAt),
        "finishedAt": iso(execution.finishedAt),
        "durationMs": execution.durationMs,
        "lagMs": execution.lagMs,
        "missedSlots": execution.missedSlots,
        "jobSnapshot": execution.jobSnapshot,
        "result": execution.result,
        "error": execution.error,
        "createdAt": iso(int(execution.createdAt)),
        "createdBy": execution.createdBy,
    }
    keep_null = {"startedAt", "finishedAt"}
    return {key: value for key, value in body.items() if value is not None or key in keep_null}


def get(job_id: int, slot: int) -> ExecutionModel | None:
    try:
        return ExecutionModel.get(job_id, slot, consistent_read=True)
    except DoesNotExist:
        return None


def get_by_id(execution_id_: int, application_ids: list[int]) -> ExecutionModel | None:
    """Through the by-application index, one key lookup per application the caller may see (an index of
    its own would cost a write unit on every run)."""
    for app_id in application_ids:
        key_of = app_shard(app_id, execution_id_)
        for key in ExecutionModel.by_application.query(key_of, ExecutionModel.id == execution_id_, limit=1):
            return get(int(key.jobId), int(key.slot))
    return None


THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
PATIENCE_SECONDS = (0.5, 1.0, 2.0, 4.0)  # after botocore's own retries: an outcome in hand is worth waiting for


def _transition(execution: ExecutionModel, actions: list[Any], condition: Any) -> bool:
    """One conditional state change; False when the condition no longer holds. A throttled write is tried
    again for up to ~8 s more: the run has happened, and dropping its outcome would leave it to the sweep."""
    for pause in PATIENCE_SECONDS:
        try:
            return _update(execution, actions, condition)
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) not in THROTTLED:
                raise
            time.sleep(pause)
    return _update(execution, actions, condition)


def _update(execution: ExecutionModel, actions: list[Any], condition: Any) -> bool:
    try:
        execution.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def start(job_id: int, slot: int, now_ms: int) -> ExecutionModel | None:
    """pending -> running; None when another delivery already took it (or it ended)."""
    execution = ExecutionModel(job_id, slot)
    ok = _transition(
        execution,
        [
            ExecutionModel.status.set(RUNNING),
            ExecutionModel.startedAt.set(ExecutionModel.startedAt | now_ms),  # the first attempt's start
            ExecutionModel.lagMs.set(ExecutionModel.lagMs | max(0, now_ms - slot)),
            ExecutionModel.attemptStartedAt.set(now_ms),
            ExecutionModel.attempt.add(1),
        ],
        (ExecutionModel.status == PENDING) & ExecutionModel.jobId.exists(),
    )
    return execution if ok else None


def finish(execution: ExecutionModel, status: str, now_ms: int, fields: dict[str, Any]) -> bool:
    """running -> succeeded/failed with the outcome; False when this attempt no longer owns it."""
    started = int(execution.startedAt or now_ms)
    actions = [
        ExecutionModel.status.set(status),
        ExecutionModel.finishedAt.set(now_ms),
        ExecutionModel.durationMs.set(max(0, now_ms - started)),
        ExecutionModel.inflightShard.remove(),
    ]
    for name, value in fields.items():
        attribute = getattr(ExecutionModel, name)
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    condition = (ExecutionModel.status == RUNNING) & (ExecutionModel.attempt == int(execution.attempt))
    return _transition(execution, actions, condition)


def retry_later(execution: ExecutionModel, attempts: list[dict[str, Any]], due_at: int) -> bool:
    """running -> pending after a failed attempt whose retry message is on its way (visible at `due_at`)."""
    condition = (ExecutionModel.status == RUNNING) & (ExecutionModel.attempt == int(execution.attempt))
    actions = [
        ExecutionModel.status.set(PENDING),
        ExecutionModel.attempts.set(attempts),
        ExecutionModel.dueAt.set(due_at),
    ]
    return _transition(execution, actions, condition)


def mark_swept(execution: ExecutionModel, now_ms: int) -> bool:
    """Claim the one re-dispatch of a pending execution whose message was lost."""
    condition = (ExecutionModel.status == PENDING) & ExecutionModel.sweptAt.does_not_exist()
    return _transition(execution, [ExecutionModel.sweptAt.set(now_ms)], condition)


def fail_lost(execution: ExecutionModel, now_ms: int, message: str) -> bool:
    """pending or running (this very attempt) -> failed LOST; False when it moved on meanwhile."""
    condition = (ExecutionModel.status == execution.status) & (ExecutionModel.attempt == int(execution.attempt))
    return _transition(execution, _failed(now_ms, "LOST", message), condition)


def _failed(now_ms: int, code: str, message: str) -> list[Any]:
    """The actions that end an execution failed without an outcome of its own."""
    return [
        ExecutionModel.status.set(FAILED),
        ExecutionModel.finishedAt.set(now_ms),
        ExecutionModel.error.set({"code": code, "message": message}),
        ExecutionModel.inflightShard.remove(),
    ]


def fail_pending(job_id: int, slot: int, now_ms: int, code: str, message: str) -> ExecutionModel | None:
    """pending -> failed without a run (job deleted or disabled after dispatch)."""
    execution = ExecutionModel(job_id, slot)
    condition = (ExecutionModel.status == PENDING) & ExecutionModel.jobId.exists()
    ok = _transition(execution, _failed(now_ms, code, message), condition)
    return execution if ok else None


def list_for_job(
    job_id: int, before_slot: int | None, limit: int, status: str | None, from_ms: int | None, to_ms: int | None
) -> tuple[list[ExecutionModel], bool]:
    """Newest first, by slot."""
    lower = from_ms if from_ms is not None else 0
    high = int(time.time() * 1000) + FAR_FUTURE_MS
    if before_slot is not None:
        high = min(high, before_slot - 1)
    if to_ms is not None:
        high = min(high, to_ms)
    if high < lower:
        return [], False
    found = list(
        ExecutionModel.query(
            job_id,
            ExecutionModel.slot.between(lower, high),
            filter_condition=(ExecutionModel.status == status) if status else None,
            scan_index_forward=False,
            limit=limit + 1,
            consistent_read=True,
        )
    )
    return found[:limit], len(found) > limit


def list_recent(
    application_ids: list[int], before_id: int | None, limit: int, status: str | None
) -> tuple[list[ExecutionModel], bool]:
    """Newest first across applications (by id), optionally one status; at most 20 pages of keys read."""
    results: list[ExecutionModel] = []
    cursor = before_id
    for _ in range(20):
        keys: list[tuple[int, int, int]] = []
        for shard_key in (key for app_id in application_ids for key in _app_shards(app_id)):
            condition = ExecutionModel.id < cursor if cursor else None
            for key in ExecutionModel.by_application.query(
                shard_key, condition, scan_index_forward=False, limit=limit + 1
            ):
                keys.append((int(key.id), int(key.jobId), int(key.slot)))
        keys.sort(reverse=True)
        page, more_keys = keys[: limit + 1], len(keys) > limit + 1
        items = {(int(e.jobId), int(e.slot)): e for e in ExecutionModel.batch_get([(j, s) for _, j, s in page])}
        for _, job_id, slot in page:
            item = items.get((job_id, slot))
            if item is not None and (status is None or item.status == status):
                results.append(item)
        if len(results) > limit or not page or (len(page) <= limit and not more_keys):
            break
        cursor = page[-1][0]
    return results[:limit], len(results) > limit


def earlier_in_flight(job_id: int, slot: int, look_back: int = 10) -> bool:
    """Whether one of the job's last `look_back` runs before `slot` is still pending or running."""
    earlier = ExecutionModel.query(
        job_id, ExecutionModel.slot < slot, scan_index_forward=False, limit=look_back, consistent_read=True
    )
    return any(item.status in (PENDING, RUNNING) for item in earlier)


def inflight_older_than(slot: int) -> list[ExecutionModel]:
    """Pending or running executions whose slot is before `slot` (the sweep's candidates)."""
    keys = [
        (int(key.jobId), int(key.slot))
        for shard in range(get_settings().due_shards)
        for key in ExecutionModel.inflight.query(shard, ExecutionModel.slot < slot)
    ]
    return list(ExecutionModel.batch_get(keys)) if keys else []


def count_overdue(before_slot: int) -> int:
    """In-flight runs whose slot is older than `before_slot`: a count over the sparse index's keys only."""
    return sum(
        ExecutionModel.inflight.count(shard, ExecutionModel.slot < before_slot)
        for shard in range(get_settings().due_shards)
    )


def inflight(limit: int = 1000) -> list[ExecutionModel]:
    """Pending or running executions, oldest slot first (sparse index; normally tiny)."""
    keys: list[tuple[int, int]] = []
    for shard in range(get_settings().due_shards):
        keys.extend((int(k.jobId), int(k.slot)) for k in ExecutionModel.inflight.query(shard, limit=limit))
    keys.sort(key=lambda key: key[1])
    return list(ExecutionModel.batch_get(keys[:limit])) if keys else []
