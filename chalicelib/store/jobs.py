"""Jobs: the job item, the claim on its name within its application, its masked snapshots, the per-application
job counts, and the due index the engine reads.

API writes are transactions (rare, small: the job, its name claim, its snapshot, its counts); the engine's writes
are single conditional updates of the cursor.
"""

from __future__ import annotations

import json
import time
import zlib
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.contracts.models import JobSpec
from chalicelib.settings import get_settings
from chalicelib.store import alerts, keys
from chalicelib.store.models import JobModel, KeyModel, connection
from chalicelib.store.records import Job


class NameTaken(Exception):
    """Another job of the application has this name."""


class StaleVersion(Exception):
    """The job changed (or vanished) since it was read."""


def due_shard(job_id: int) -> int:
    return job_id % get_settings().due_shards


@lru_cache(maxsize=8192)
def _spec(stored: bytes) -> JobSpec:
    """A stored spec, decoded once per process (jobs are read per run; their specs rarely change)."""
    return JobSpec.model_validate_json(zlib.decompress(stored), context={"stored": True})


def _record(item: JobModel) -> Job:
    return Job(
        id=int(item.id),
        spec=_spec(item.spec),
        version=int(item.version),
        created_at=int(item.createdAt),
        updated_at=int(item.updatedAt),
        created_by=item.createdBy,
        updated_by=item.updatedBy,
        next_run_at=int(item.nextRunAt) if item.nextRunAt is not None else None,
        completed_at=int(item.completedAt) if item.completedAt is not None else None,
        snapshot=item.snapshot,
        paused_until=int(item.pausedUntil) if item.pausedUntil is not None else None,
        paused_reason=item.pausedReason,
        paused_at=int(item.pausedAt) if item.pausedAt is not None else None,
    )


def spec_bytes(spec: JobSpec) -> bytes:
    """The spec as stored: compressed JSON, so an ordinary job's item stays under 1 KB and moving its cursor costs
    one write unit for the item."""
    return zlib.compress(spec.model_dump_json(exclude_none=True).encode(), 6)


def raw_spec(job_id: int) -> dict[str, Any]:
    """The stored spec as plain JSON (tests and migrations)."""
    data: dict[str, Any] = json.loads(zlib.decompress(JobModel.get(job_id, consistent_read=True).spec))
    return data


def write_raw_spec(job_id: int, spec: dict[str, Any]) -> None:
    """Store a spec exactly as given, past every input rule (tests of jobs stored before a rule; migrations)."""
    blob = zlib.compress(json.dumps(spec).encode(), 6)
    keys.update_quietly(JobModel(job_id), [JobModel.spec.set(blob), JobModel.version.add(1)], JobModel.id.exists())


def _item(job: Job) -> JobModel:
    # In the due index: an enabled job with a next slot, and a job paused until a time (the tick resumes it then)
    due = job.next_run_at is not None and (job.enabled or job.paused_until is not None)
    return JobModel(
        job.id,
        applicationId=job.application_id,
        name=job.name,
        enabled=job.enabled,
        spec=spec_bytes(job.spec),
        snapshot=job.snapshot,
        createdAt=job.created_at,
        createdBy=job.created_by,
        updatedAt=job.updated_at,
        updatedBy=job.updated_by,
        version=job.version,
        nextRunAt=job.next_run_at if due else None,
        dueShard=due_shard(job.id) if due else None,
        completedAt=job.completed_at,
        pausedUntil=job.paused_until,
        pausedReason=job.paused_reason,
        pausedAt=job.paused_at,
    )


# --- snapshots and counts ---------------------------------------------------------------------------------


def _snapshot_key(job_id: int, key: str) -> str:
    return f"snapshot#{job_id}#{key}"


def _count_keys(application_id: int) -> tuple[str, str]:
    return f"jobcount#{application_id}#total", f"jobcount#{application_id}#enabled"


def _retire_after() -> int:
    """A snapshot no longer current lives as long as the runs that show it (retention, and a day)."""
    return (get_settings().execution_retention_days + 1) * 86_400


def _add_counts(tx: TransactWrite, application_id: int, total: int, enabled: int) -> None:
    for key, delta in zip(_count_keys(application_id), (total, enabled), strict=True):
        if delta:
            tx.update(KeyModel(key), actions=[KeyModel.value.add(delta)])


def _write_snapshot(tx: TransactWrite, job: Job, content: dict[str, Any] | None, old: Job | None) -> None:
    """A new snapshot (current: no expiry), and the old one set to expire once no kept run can show it."""
    if job.snapshot is None or content is None or (old is not None and old.snapshot == job.snapshot):
        return
    tx.save(KeyModel(_snapshot_key(job.id, job.snapshot), data=content))
    if old is not None and old.snapshot is not None:
        _retire_snapshot(tx, old)


def _retire_snapshot(tx: TransactWrite, job: Job) -> None:
    if job.snapshot is None:
        return
    expires = int(time.time()) + _retire_after()
    tx.update(KeyModel(_snapshot_key(job.id, job.snapshot)), actions=[KeyModel.expiresAt.set(expires)])


@lru_cache(maxsize=4096)
def snapshot(job_id: int, key: str) -> dict[str, Any] | None:
    """The masked configuration stored under `key` (immutable: cached for the life of the process)."""
    item = keys.get(_snapshot_key(job_id, key))
    return dict(item.data) if item is not None and item.data else None


def counts(application_ids: list[int]) -> tuple[int, int]:
    """(jobs, enabled jobs) of these applications: two counter reads each, whatever the number of jobs."""
    names = [key for app_id in application_ids for key in _count_keys(app_id)]
    found = {item.key: int(item.value or 0) for item in KeyModel.batch_get(names)} if names else {}
    total = sum(found.get(_count_keys(app_id)[0], 0) for app_id in application_ids)
    enabled = sum(found.get(_count_keys(app_id)[1], 0) for app_id in application_ids)
    return total, enabled


# --- reads --------------------------------------------------------------------------------------------------


def get(job_id: int) -> Job | None:
    try:
        return _record(JobModel.get(job_id, consistent_read=True))
    except DoesNotExist:
        return None


def get_many(job_ids: set[int]) -> dict[int, Job]:
    return {job.id: job for job in _full(sorted(job_ids))}


def _full(job_ids: list[int]) -> list[Job]:
    """The jobs behind index keys, in the same order."""
    found = {int(item.id): _record(item) for item in JobModel.batch_get(job_ids)} if job_ids else {}
    return [found[job_id] for job_id in job_ids if job_id in found]


def due(shard: int, before: int, limit: int | None = None) -> list[Job]:
    """Enabled jobs of one due-index shard whose cursor is before `before`, soonest first."""
    keys_found = JobModel.due.query(shard, JobModel.nextRunAt < before, limit=limit)
    return _full([int(item.id) for item in keys_found])


def all_of_application(application_id: int) -> list[Job]:
    return _full([int(item.id) for item in JobModel.by_application.query(application_id)])


def list_for_applications(
    application_ids: list[int],
    after_id: int,
    limit: int,
    enabled: bool | None = None,
    name_prefix: str | None = None,
) -> tuple[list[Job], bool]:
    """Jobs of these applications with id > after_id, by id; also whether more follow."""
    condition: Condition | None = None
    if enabled is not None:
        condition = JobModel.enabled == enabled
    if name_prefix:
        prefix_condition = JobModel.name.startswith(name_prefix)
        condition = prefix_condition if condition is None else condition & prefix_condition
    found: list[JobModel] = []
    for app_id in application_ids:
        found.extend(
            JobModel.by_application.query(app_id, JobModel.id > after_id, filter_condition=condition, limit=limit + 1)
        )
    found.sort(key=lambda item: item.id)
    return _full([int(item.id) for item in found[:limit]]), len(found) > limit


def _watches_lateness(job: Job | None) -> bool:
    return job is not None and job.spec.alerts is not None and job.spec.alerts.lateAfterSeconds is not None


def _watch(tx: TransactWrite, job_id: int, job: Job | None, old: Job | None) -> None:
    """Keep the set of jobs the tick checks for lateness in step with the job, in the job's own transaction (a job
    without `alerts.lateAfterSeconds`, before and after, writes nothing more)."""
    watched = _watches_lateness(job)
    if watched != _watches_lateness(old):
        alerts.watch_in(tx, job_id, watched)


# --- API writes ----------------------------------------------------------------------------------------------


CONFLICT_RETRIES = (0.05, 0.2, 0.5)  # seconds: concurrent creates meet on the application's shared job counts


def _conflict_only(exc: TransactWriteError) -> bool:
    """Cancelled because another transaction touched an item at the same time (the shared counters), not because a
    condition failed: worth trying again."""
    codes = {reason.code for reason in exc.cancellation_reasons if reason is not None}
    return bool(codes) and codes <= {"TransactionConflict"}


def create(job: Job, snapshot_content: dict[str, Any] | None) -> None:
    """Store a new job with its name claim, snapshot and counts; NameTaken when the name is claimed. A
    transaction cancelled only by a concurrent one (two creates counting the same application) is tried again."""
    for pause in (*CONFLICT_RETRIES, None):
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.save(KeyModel(keys.job_name_key(job.application_id, job.name), ref=job.id),
                        condition=KeyModel.key.does_not_exist())  # fmt: skip
                tx.save(_item(job), condition=JobModel.id.does_not_exist())
                _write_snapshot(tx, job, snapshot_content, None)
                _add_counts(tx, job.application_id, 1, int(job.enabled))
                _watch(tx, job.id, job, None)
            return
        except TransactWriteError as exc:
            if pause is not None and _conflict_only(exc):
                time.sleep(pause)
                continue
            if _conflict_only(exc):
                raise
            raise NameTaken(job.name) from exc


def replace(job: Job, old: Job, snapshot_content: dict[str, Any] | None) -> None:
    """Write `job` over `old` if the stored version is still `old.version` (StaleVersion otherwise); moves the name
    claim on a rename (NameTaken when the new name is claimed)."""
    app_id = job.application_id
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(_item(job), condition=JobModel.version == old.version)
            if job.name != old.name:
                tx.save(KeyModel(keys.job_name_key(app_id, job.name), ref=job.id),
                        condition=KeyModel.key.does_not_exist())  # fmt: skip
                tx.delete(KeyModel(keys.job_name_key(app_id, old.name)), condition=KeyModel.ref == job.id)
            _write_snapshot(tx, job, snapshot_content, old)
            _add_counts(tx, app_id, 0, int(job.enabled) - int(old.enabled))
            _watch(tx, job.id, job, old)
    except TransactWriteError as exc:
        # PynamoDB groups items by kind, so cancellation reasons are not in call order: ask the claim.
        if job.name != old.name:
            claim = keys.get(keys.job_name_key(app_id, job.name))
            if claim is not None and claim.ref != job.id:
                raise NameTaken(job.name) from exc
        raise StaleVersion() from exc


def delete(job: Job, expected_version: int | None = None) -> bool:
    """Delete the job, free its name, count it out; False when it was already gone (or not at the version)."""
    condition = JobModel.id.exists()
    if expected_version is not None:
        condition = condition & (JobModel.version == expected_version)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(JobModel(job.id), condition=condition)
            tx.delete(KeyModel(keys.job_name_key(job.application_id, job.name)), condition=KeyModel.ref == job.id)
            _retire_snapshot(tx, job)
            _add_counts(tx, job.application_id, -1, -int(job.enabled))
            _watch(tx, job.id, None, job)
    except TransactWriteError as exc:
        if any(reason is not None for reason in exc.cancellation_reasons):
            return False
        raise
    return True


# --- engine writes -------------------------------------------------------------------------------------------


def _update(job_id: int, actions: list[Any], condition: Condition) -> bool:
    try:
        keys.update_quietly(JobModel(job_id), actions, condition)
    except UpdateError as exc:
        if keys.is_condition_failure(exc):
            return False
        raise
    return True


def advance(job: Job, next_run_at: int | None) -> bool:
    """Move the cursor past dispatched slots if it is still where `job` saw it; None takes the job out of the due
    index (a one-off job dispatched, a schedule that ended)."""
    condition = JobModel.nextRunAt == job.next_run_at
    if next_run_at is None:
        return _update(job.id, [JobModel.nextRunAt.remove(), JobModel.dueShard.remove()], condition)
    return _update(job.id, [JobModel.nextRunAt.set(next_run_at)], condition)


def complete(job_id: int, at_ms: int) -> bool:
    """A one-off job ran: it shows `completed` from now on."""
    return _update(job_id, [JobModel.completedAt.set(at_ms), JobModel.dueShard.remove()], JobModel.id.exists())
