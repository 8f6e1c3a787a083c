"""Jobs: the job item, the claim on its name within its application, and the due index.

API writes that touch the name claim are transactions (rare, small); the engine's per-run writes are
single conditional updates.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.models import JobModel, KeyModel, connection


class NameTaken(Exception):
    """Another job of the application has this name."""


class StaleVersion(Exception):
    """The job changed (or vanished) since it was read."""


def due_shard(job_id: int) -> int:
    return job_id % get_settings().due_shards


def set_next_run(job: JobModel, next_run_at: int | None) -> None:
    """Place the job in the sparse due index, or out of it when it has no next run or is disabled."""
    job.nextRunAt = next_run_at if job.enabled else None
    job.dueShard = due_shard(int(job.id)) if job.nextRunAt is not None else None


def get(job_id: int) -> JobModel | None:
    try:
        return JobModel.get(job_id, consistent_read=True)
    except DoesNotExist:
        return None


def create(job: JobModel) -> None:
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(
                KeyModel(keys.job_name_key(int(job.applicationId), job.name), ref=job.id),
                condition=KeyModel.key.does_not_exist(),
            )
            tx.save(job, condition=JobModel.id.does_not_exist())
    except TransactWriteError as exc:
        raise NameTaken(job.name) from exc


def replace(job: JobModel, expected_version: int, old_name: str) -> None:
    """Write the whole job if its stored version is `expected_version`; moves the name claim on rename."""
    condition = JobModel.version == expected_version
    if job.name == old_name:
        try:
            job.save(condition=condition)
        except PutError as exc:
            if keys.is_condition_failure(exc):
                raise StaleVersion() from exc
            raise
        return
    app_id = int(job.applicationId)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(KeyModel(keys.job_name_key(app_id, job.name), ref=job.id), condition=KeyModel.key.does_not_exist())
            tx.delete(KeyModel(keys.job_name_key(app_id, old_name)), condition=KeyModel.ref == job.id)
            tx.save(job, condition=condition)
    except TransactWriteError as exc:
        # PynamoDB groups items by kind, so cancellation reasons are not in call order: ask the claim.
        claim = keys.get(keys.job_name_key(app_id, job.name))
        if claim is not None and claim.ref != job.id:
            raise NameTaken(job.name) from exc
        raise StaleVersion() from exc


def update(job: JobModel, actions: list, condition: Condition) -> bool:  # type: ignore[type-arg]
    """A conditional update; False when the condition failed."""
    try:
        job.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if keys.is_condition_failure(exc):
            return False
        raise
    return True


def delete(job: JobModel, expected_version: int | None = None) -> bool:
    """Delete the job and free its name; False when it was already gone (or not at `expected_version`)."""
    condition = JobModel.id.exists()
    if expected_version is not None:
        condition = condition & (JobModel.version == expected_version)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(job, condition=condition)
            tx.delete(KeyModel(keys.job_name_key(int(job.applicationId), job.name)), condition=KeyModel.ref == job.id)
    except TransactWriteError as exc:
        if any(reason is not None for reason in exc.cancellation_reasons):
            return False
        raise
    return True


def all_of_application(application_id: int) -> list[JobModel]:
    return _full([int(key.id) for key in JobModel.by_application.query(application_id)])


def _full(job_ids: list[int]) -> list[JobModel]:
    """The items behind index keys, in the same order (the index projects only name and enabled)."""
    found = {int(job.id): job for job in JobModel.batch_get(job_ids)} if job_ids else {}
    return [found[job_id] for job_id in job_ids if job_id in found]


def list_for_applications(
    application_ids: list[int],
    after_id: int,
    limit: int,
    enabled: bool | None = None,
    name_prefix: str | None = None,
) -> tuple[list[JobModel], bool]:
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
    found.sort(key=lambda job: job.id)
    return _full([int(job.id) for job in found[:limit]]), len(found) > limit
