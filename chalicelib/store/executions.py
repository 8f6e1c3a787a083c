"""Executions: one item per (job, slot). Every state change is one conditional write, no transactions:

invoker:  put running (attempt 1)      if attribute_not_exists   (a scheduled run is claimed where it starts)
trigger:  put pending                  if attribute_not_exists   (a manual run is readable the moment it is asked)
invoker:  pending -> running           if status = pending       (a manual run, or a retry whose backoff ended)
invoker:  running -> final             if status = running and attempt matches
invoker:  running -> pending           if status = running and attempt matches   (a retry on its way)
invoker:  running -> running (N+1)     if the attempt N it saw is still running   (its invoker died: take it over)
anyone:   pending/running -> failed    if the status and attempt it saw still hold (LOST, a refused dispatch)
make run: running (attempt 1) -> gone  if still so: a claim whose call cannot have happened (stopped before its slot)

What a run produced (result, error, attempts) is stored as one zlib-compressed JSON document, and the job's
configuration as run is a reference to a masked snapshot kept once per job version (`jobs.snapshot`): a run's
item stays under 1 KB for an ordinary job, so each write costs one write unit.
"""

from __future__ import annotations

import json
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from chalicelib.clock import iso
from chalicelib.codes import Status, status_of, trigger_of
from chalicelib.ids import execution_id
from chalicelib.settings import get_settings
from chalicelib.store.keys import is_condition_failure, update_quietly
from chalicelib.store.models import ExecutionModel
from chalicelib.store.records import Execution

PENDING: Status = "pending"
RUNNING: Status = "running"
SUCCEEDED: Status = "succeeded"
FAILED: Status = "failed"
FINAL = (SUCCEEDED, FAILED)
IN_FLIGHT = (PENDING, RUNNING)
FAR_FUTURE_MS = 10 * 365 * 86_400_000
THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
PATIENCE_SECONDS = (0.5, 1.0, 2.0, 4.0)  # after botocore's own retries: an outcome in hand is worth waiting for


def app_shard(application_id: int, execution_id_: int) -> int:
    """The by-application index key of an execution: its application, and a shard chosen by its id."""
    return application_id * 1000 + execution_id_ % get_settings().app_index_shards


def _app_shards(application_id: int) -> list[int]:
    return [application_id * 1000 + shard for shard in range(get_settings().app_index_shards)]


def _expires_at(now_ms: int) -> int:
    return now_ms // 1000 + get_settings().execution_retention_days * 86_400


# --- the payload ----------------------------------------------------------------------------------------------


def _pack(**fields: Any) -> bytes | None:
    present = {name: value for name, value in fields.items() if value}
    if not present:
        return None
    return zlib.compress(json.dumps(present, separators=(",", ":"), allow_nan=False).encode(), 6)


def _set_payload(**fields: Any) -> Any:
    """The update action that stores these fields as the payload (or removes it when all are empty)."""
    payload = _pack(**fields)
    return ExecutionModel.payload.set(payload) if payload else ExecutionModel.payload.remove()


def _unpack(payload: bytes | None) -> dict[str, Any]:
    if not payload:
        return {}
    data: dict[str, Any] = json.loads(zlib.decompress(payload))
    return data


def _number(value: float | None) -> int | None:
    return int(value) if value is not None else None


def _record(item: ExecutionModel) -> Execution:
    produced = _unpack(item.payload)
    return Execution(
        job_id=int(item.jobId),
        slot=int(item.slot),
        id=int(item.id),
        application_id=int(item.applicationId),
        status=status_of(item.status),
        trigger=trigger_of(item.trigger),
        attempt=int(item.attempt or 0),
        created_at=int(item.createdAt),
        created_by=item.createdBy,
        started_at=_number(item.startedAt),
        attempt_started_at=_number(item.attemptStartedAt),
        finished_at=_number(item.finishedAt),
        duration_ms=_number(item.durationMs),
        lag_ms=_number(item.lagMs),
        missed_slots=_number(item.missedSlots),
        due_at=_number(item.dueAt),
        planned_at=_number(item.plannedAt),
        snapshot=item.snapshot,
        job_snapshot=produced.get("jobSnapshot"),
        resolved=produced.get("resolved"),
        request=produced.get("request"),
        result=produced.get("result"),
        error=produced.get("error"),
        attempts=produced.get("attempts") or [],
    )


# --- writes ----------------------------------------------------------------------------------------------------


def _put_new(item: ExecutionModel) -> Execution | None:
    try:
        _patiently(lambda: item.save(condition=ExecutionModel.jobId.does_not_exist()))
    except PutError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return _record(item)


def claim(job_id: int, application_id: int, slot: int, now_ms: int, *, snapshot: str | None,
          missed_slots: int | None = None) -> Execution | None:  # fmt: skip
    """A scheduled run claims its slot as it is about to start (at most a couple of seconds before it): `running`,
    attempt 1, its start provisionally the later of now and the slot (the call's own time replaces it when the
    run finishes); None when the slot is taken (another delivery of the same slot, or a run already recorded)."""
    new_id = execution_id(slot)
    start = max(now_ms, slot)
    return _put_new(ExecutionModel(
        job_id, slot, id=new_id, applicationId=application_id, appShard=app_shard(application_id, new_id),
        status=RUNNING, trigger="schedule", attempt=1, createdAt=now_ms, startedAt=start, attemptStartedAt=start,
        missedSlots=missed_slots or None, snapshot=snapshot, expiresAt=_expires_at(now_ms),
    ))  # fmt: skip


def create_pending(job_id: int, application_id: int, slot: int, trigger: str, now_ms: int,
                   created_by: str | None = None) -> Execution | None:  # fmt: skip
    """A run asked for by hand: `pending` until the invoker starts it; None when the slot is taken."""
    new_id = execution_id(slot)
    return _put_new(ExecutionModel(
        job_id, slot, id=new_id, applicationId=application_id, appShard=app_shard(application_id, new_id),
        status=PENDING, trigger=trigger, attempt=0, createdAt=now_ms, createdBy=created_by, dueAt=slot,
        expiresAt=_expires_at(now_ms),
    ))  # fmt: skip


def put_failed(job_id: int, application_id: int, slot: int, trigger: str, now_ms: int, code: str,
               message: str) -> Execution | None:  # fmt: skip
    """Record a run that ended before anything was recorded for it (its message went to the dead-letter queue);
    None when a record exists."""
    new_id = execution_id(slot)
    return _put_new(ExecutionModel(
        job_id, slot, id=new_id, applicationId=application_id, appShard=app_shard(application_id, new_id),
        status=FAILED, trigger=trigger, attempt=0, createdAt=now_ms, finishedAt=now_ms,
        payload=_pack(error={"code": code, "message": message}), expiresAt=_expires_at(now_ms),
    ))  # fmt: skip


def _patiently(write: Any) -> Any:
    """A throttled write is tried again for up to ~8 s more: a run that happened is worth waiting to record."""
    for pause in PATIENCE_SECONDS:
        try:
            return write()
        except (UpdateError, PutError) as exc:
            if getattr(exc, "cause_response_code", None) not in THROTTLED:
                raise
            time.sleep(pause)
    return write()


def _transition(execution: Execution, actions: list[Any], condition: Any, **changes: Any) -> Execution | None:
    """One conditional state change; the record after it (`changes` applied to the record read: the condition
    holds only if nothing moved since, so the item is not read back), or None when the condition failed."""
    item = ExecutionModel(execution.job_id, execution.slot)
    try:
        _patiently(lambda: update_quietly(item, actions, condition))
    except UpdateError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return replace(execution, **changes)


def _at(execution: Execution, status: str) -> Any:
    return (ExecutionModel.status == status) & (ExecutionModel.attempt == execution.attempt)


def start(execution: Execution, now_ms: int, snapshot: str | None) -> Execution | None:
    """pending -> running (a manual run, or a retry whose backoff ended) with the job's version as it starts (its
    `snapshot`); None when another delivery took it."""
    lag = max(0, now_ms - execution.slot)
    return _transition(
        execution,
        [
            ExecutionModel.status.set(RUNNING),
            ExecutionModel.snapshot.set(snapshot) if snapshot else ExecutionModel.snapshot.remove(),
            ExecutionModel.startedAt.set(ExecutionModel.startedAt | now_ms),  # the first attempt's start
            ExecutionModel.lagMs.set(ExecutionModel.lagMs | lag),
            ExecutionModel.attemptStartedAt.set(now_ms),
            ExecutionModel.attempt.add(1),
        ],
        _at(execution, PENDING),
        status=RUNNING,
        snapshot=snapshot,
        started_at=execution.started_at if execution.started_at is not None else now_ms,
        lag_ms=execution.lag_ms if execution.lag_ms is not None else lag,
        attempt_started_at=now_ms,
        attempt=execution.attempt + 1,
    )


def take_over(execution: Execution, now_ms: int, attempts: list[dict[str, Any]]) -> Execution | None:
    """A running attempt whose invoker died: the next attempt starts here, if nobody moved the run meanwhile."""
    return _transition(
        execution,
        [ExecutionModel.attemptStartedAt.set(now_ms), ExecutionModel.attempt.add(1), _set_payload(attempts=attempts)],
        _at(execution, RUNNING),
        attempt_started_at=now_ms,
        attempt=execution.attempt + 1,
        attempts=attempts,
    )


def finish(execution: Execution, status: str, now_ms: int, *, result: dict[str, Any] | None,
           error: dict[str, str] | None, attempts: list[dict[str, Any]], request: dict[str, Any] | None = None,
           resolved: dict[str, Any] | None = None, job_snapshot: dict[str, Any] | None = None,
           called_at: int | None = None, planned_at: int | None = None) -> Execution | None:  # fmt: skip
    """running -> succeeded/failed with what the run produced; None when this attempt no longer owns it. The first
    attempt's start and lag are its call's (`called_at`), lag counted from `planned_at` (a jittered slot's start).
    One attempt without error is not listed (the record's own times say it)."""
    timing = _first_call(execution, called_at, planned_at)
    started = timing.get("started_at") or execution.started_at or now_ms
    listed = attempts if len(attempts) > 1 or error else []
    payload = _set_payload(result=result, error=error, attempts=listed, request=request, resolved=resolved,
                           jobSnapshot=job_snapshot)  # fmt: skip
    actions = [
        ExecutionModel.status.set(status),
        ExecutionModel.finishedAt.set(now_ms),
        ExecutionModel.durationMs.set(max(0, now_ms - started)),
        payload,
    ]
    actions += _timing_actions(timing)
    return _transition(
        execution, actions, _at(execution, RUNNING), status=status, finished_at=now_ms,
        duration_ms=max(0, now_ms - started), result=result, error=error, attempts=listed, request=request,
        resolved=resolved, job_snapshot=job_snapshot, **timing,
    )  # fmt: skip


def retry_later(execution: Execution, attempts: list[dict[str, Any]], due_at: int,
                called_at: int | None = None, planned_at: int | None = None) -> Execution | None:  # fmt: skip
    """running -> pending after a failed attempt whose retry message is on its way (visible at `due_at`)."""
    timing = _first_call(execution, called_at, planned_at)
    actions = [ExecutionModel.status.set(PENDING), _set_payload(attempts=attempts), ExecutionModel.dueAt.set(due_at),
               *_timing_actions(timing)]  # fmt: skip
    return _transition(execution, actions, _at(execution, RUNNING), status=PENDING, attempts=attempts, due_at=due_at,
                       **timing)  # fmt: skip


def _first_call(execution: Execution, called_at: int | None, planned_at: int | None = None) -> dict[str, Any]:
    """The first attempt's start and lag are its call's, known when the attempt ends (the claim comes before); a
    jittered run's lag counts from its planned start, which the record then keeps."""
    if execution.attempt != 1 or called_at is None:
        return {}
    planned = planned_at if planned_at is not None and planned_at != execution.slot else None
    timing = {"started_at": called_at, "attempt_started_at": called_at,
              "lag_ms": max(0, called_at - (planned or execution.slot))}  # fmt: skip
    return {**timing, "planned_at": planned} if planned is not None else timing


def _timing_actions(timing: dict[str, Any]) -> list[Any]:
    if not timing:
        return []
    actions = [ExecutionModel.startedAt.set(timing["started_at"]), ExecutionModel.lagMs.set(timing["lag_ms"]),
               ExecutionModel.attemptStartedAt.set(timing["attempt_started_at"])]  # fmt: skip
    if timing.get("planned_at") is not None:
        actions.append(ExecutionModel.plannedAt.set(timing["planned_at"]))
    return actions


def fail(execution: Execution, now_ms: int, code: str, message: str) -> Execution | None:
    """pending or running (the attempt seen) -> failed without an outcome of its own: its invoker died and no
    attempt is left (LOST), its dispatch was refused, its message was given up on. Earlier attempts stay listed."""
    if execution.status not in IN_FLIGHT:
        return None  # a finished run keeps its outcome
    error = {"code": code, "message": message}
    attempts = list(execution.attempts)
    if execution.status == RUNNING:
        attempts.append({"at": iso(now_ms), "error": error})
    actions = [
        ExecutionModel.status.set(FAILED),
        ExecutionModel.finishedAt.set(now_ms),
        _set_payload(error=error, attempts=attempts),
    ]
    return _transition(execution, actions, _at(execution, execution.status), status=FAILED, finished_at=now_ms,
                       error=error, attempts=attempts)  # fmt: skip


def release(execution: Execution) -> bool:
    """Undo a scheduled run's claim whose call cannot have happened (`make run` stopped before its slot came), if it
    is still that first attempt, running: its message then claims the slot again. True when released."""
    if execution.trigger != "schedule" or execution.attempt != 1:
        return False
    try:
        ExecutionModel(execution.job_id, execution.slot).delete(condition=_at(execution, RUNNING))
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


# --- reads -------------------------------------------------------------------------------------------------------


def get(job_id: int, slot: int) -> Execution | None:
    try:
        return _record(ExecutionModel.get(job_id, slot, consistent_read=True))
    except DoesNotExist:
        return None


def get_by_id(execution_id_: int, application_ids: list[int]) -> Execution | None:
    """Through the by-application index, one key lookup per application the caller may see (an index of
    its own would cost a write unit on every run)."""
    for app_id in application_ids:
        key_of = app_shard(app_id, execution_id_)
        for key in ExecutionModel.by_application.query(key_of, ExecutionModel.id == execution_id_, limit=1):
            return get(int(key.jobId), int(key.slot))
    return None


def list_for_job(
    job_id: int, before_slot: int | None, limit: int, status: str | None, from_ms: int | None, to_ms: int | None
) -> tuple[list[Execution], bool]:
    """Newest first, by slot."""
    lower = from_ms if from_ms is not None else 0
    high = int(time.time() * 1000) + FAR_FUTURE_MS
    if before_slot is not None:
        high = min(high, before_slot - 1)
    if to_ms is not None:
        high = min(high, to_ms)
    if high < lower:
        return [], False
    found = [
        _record(item)
        for item in ExecutionModel.query(
            job_id,
            ExecutionModel.slot.between(lower, high),
            filter_condition=(ExecutionModel.status == status) if status else None,
            scan_index_forward=False,
            limit=limit + 1,
            consistent_read=True,
        )
    ]
    return found[:limit], len(found) > limit


def list_recent(
    application_ids: list[int], before_id: int | None, limit: int, status: str | None
) -> tuple[list[Execution], bool]:
    """Newest first across applications (by id), optionally one status; at most 20 pages of keys read."""
    results: list[Execution] = []
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
                results.append(_record(item))
        if len(results) > limit or not page or (len(page) <= limit and not more_keys):
            break
        cursor = page[-1][0]
    return results[:limit], len(results) > limit


def newest_of(job_ids: list[int]) -> list[Execution | None]:
    """Each job's newest run (one key query each, side by side), in the order given."""

    def newest(job_id: int) -> Execution | None:
        for item in ExecutionModel.query(job_id, scan_index_forward=False, limit=1):
            return _record(item)
        return None

    if not job_ids:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(job_ids))) as pool:
        return list(pool.map(newest, job_ids))


def slots_with_runs(job_id: int, start: int, end: int) -> set[int]:
    """The slots in [start, end) of the job that have a run (any trigger): one query of keys."""
    found = ExecutionModel.query(job_id, ExecutionModel.slot.between(start, end - 1), consistent_read=True,
                                 attributes_to_get=["slot"])  # fmt: skip
    return {int(item.slot) for item in found}


def get_many(job_id: int, slots: list[int]) -> dict[int, Execution]:
    """The job's runs at these slots that exist, by slot (BatchGetItem, 100 keys a request)."""
    if not slots:
        return {}
    return {int(item.slot): _record(item) for item in ExecutionModel.batch_get([(job_id, slot) for slot in slots])}


def other_in_flight(job_id: int, slot: int, look_back: int = 10) -> bool:
    """Whether another run of the job goes first: one of the `look_back` before `slot` still pending or running, or
    one of its newest running (a backfill's old slot beside today's). Later pending slots wait for this one."""
    if earlier_in_flight(job_id, slot, look_back):
        return True
    newest = ExecutionModel.query(job_id, scan_index_forward=False, limit=look_back, consistent_read=True)
    return any(item.status == RUNNING and int(item.slot) != slot for item in newest)


def newest(job_id: int, limit: int, *, below: int | None = None, consistent: bool = True) -> list[Execution]:
    """The job's newest `limit` runs (slots below `below` when given), newest first: one Query."""
    condition = ExecutionModel.slot < below if below is not None else None
    items = ExecutionModel.query(job_id, condition, scan_index_forward=False, limit=limit, consistent_read=consistent)
    return [_record(item) for item in items]


def newest_runs_of(job_ids: list[int], limit: int) -> list[list[Execution]]:
    """Each job's newest `limit` runs (one eventually consistent Query each, side by side), in the order given."""
    if not job_ids:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(job_ids))) as pool:
        return list(pool.map(lambda job_id: newest(job_id, limit, consistent=False), job_ids))


def started(pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (job, slot) runs have a record: they started (a run is claimed as it starts)."""
    found: set[tuple[int, int]] = set()
    for start in range(0, len(pairs), 100):
        for item in ExecutionModel.batch_get(pairs[start : start + 100], attributes_to_get=["jobId", "slot"]):
            found.add((int(item.jobId), int(item.slot)))
    return found


def earlier_in_flight(job_id: int, slot: int, look_back: int = 10) -> bool:
    """Whether one of the job's last `look_back` runs before `slot` is still pending or running."""
    earlier = ExecutionModel.query(
        job_id, ExecutionModel.slot < slot, scan_index_forward=False, limit=look_back, consistent_read=True
    )
    return any(item.status in IN_FLIGHT for item in earlier)
