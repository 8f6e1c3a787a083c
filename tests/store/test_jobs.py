"""The job store's guarded writes (chalicelib/store/jobs.py): API writes are conditional on the version read (a
stale one is refused and changes nothing), a name is claimed by one job of an application at a time, and the
engine moves a job's cursor only from where it saw it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.contracts.models import JobSpec
from chalicelib.store import jobs as store
from chalicelib.store import keys
from chalicelib.store.records import Job

APP = 5
SLOT = 1_780_000_020_000


def new_job(name: str = "nightly", application_id: int = APP, **fields: Any) -> Job:
    """A job as the service hands it to the store: version 1, cursor on `SLOT`."""
    spec = JobSpec.model_validate({"applicationId": application_id, "name": name, "pattern": "0 2 * * *",
                                   "taskConfig": {"endpoint": "https://api.example.com"}, **fields})  # fmt: skip
    job = Job(id=keys.allocate_ids("job"), spec=spec, version=1, created_at=1, updated_at=1, next_run_at=SLOT)
    store.create(job, None)
    return job


def edited(job: Job, **fields: Any) -> Job:
    """The next version of `job` with these spec fields changed."""
    return replace(job, spec=job.spec.model_copy(update=fields), version=job.version + 1, updated_at=job.updated_at + 1)


# --- create and the name claim ---------------------------------------------------------------------------------


def test_a_name_is_claimed_by_one_job_of_an_application(aws):
    first = new_job("nightly")
    with pytest.raises(store.NameTaken):
        new_job("nightly")
    other_app = new_job("nightly", application_id=APP + 1)  # names are unique per application only
    assert store.get(first.id) == first and store.get(other_app.id) == other_app
    assert store.counts([APP]) == (1, 1)  # the refused create counted nothing


# --- replace: only over the version read -----------------------------------------------------------------------


def test_replace_writes_over_the_version_it_read(aws):
    job = new_job()
    changed = edited(job, description="v2")
    store.replace(changed, job, None)
    assert store.get(job.id) == changed and store.get(job.id).version == 2


def test_replace_over_a_stale_version_is_refused_and_changes_nothing(aws):
    job = new_job()
    winner = edited(job, description="first writer")
    store.replace(winner, job, None)
    with pytest.raises(store.StaleVersion):
        store.replace(edited(job, description="second writer"), job, None)  # read version 1, stored is 2
    assert store.get(job.id) == winner


def test_replace_of_a_deleted_job_is_refused(aws):
    job = new_job()
    assert store.delete(job)
    with pytest.raises(store.StaleVersion):
        store.replace(edited(job, description="too late"), job, None)
    assert store.get(job.id) is None


def test_a_rename_moves_the_name_claim(aws):
    job = new_job("old-name")
    store.replace(edited(job, name="new-name"), job, None)
    assert new_job("old-name").name == "old-name"  # freed
    with pytest.raises(store.NameTaken):
        new_job("new-name")  # claimed


def test_a_rename_to_a_taken_name_is_name_taken_and_changes_nothing(aws):
    job = new_job("a")
    new_job("b")
    with pytest.raises(store.NameTaken):
        store.replace(edited(job, name="b"), job, None)
    assert store.get(job.id) == job
    with pytest.raises(store.NameTaken):
        new_job("a")  # still held by the job that kept it


def test_enabled_counts_follow_the_version_written(aws):
    job = new_job()
    store.replace(edited(job, enabled=False), job, None)
    assert store.counts([APP]) == (1, 0)
    with pytest.raises(store.StaleVersion):
        store.replace(edited(job, enabled=False), job, None)  # a refused write moves no count
    assert store.counts([APP]) == (1, 0)


# --- delete ----------------------------------------------------------------------------------------------------


def test_delete_at_a_stale_version_is_refused_and_keeps_the_job(aws):
    job = new_job()
    store.replace(edited(job, description="v2"), job, None)
    assert store.delete(job, expected_version=1) is False
    assert store.get(job.id).version == 2 and store.counts([APP]) == (1, 1)
    assert store.delete(job, expected_version=2) is True
    assert store.get(job.id) is None and store.counts([APP]) == (0, 0)


def test_delete_of_a_job_already_gone_is_false_and_counts_it_out_once(aws):
    job = new_job()
    assert store.delete(job) is True
    assert store.delete(job) is False
    assert store.counts([APP]) == (0, 0)
    assert new_job(job.name).name == job.name  # its name was freed


# --- the engine's cursor -----------------------------------------------------------------------------------------


def test_the_cursor_advances_only_from_where_the_tick_saw_it(aws):
    job = new_job()
    assert store.due(store.due_shard(job.id), SLOT + 1) == [job]
    assert store.advance(job, SLOT + 60_000) is True
    assert store.advance(job, SLOT + 120_000) is False  # a second tick that read the old cursor
    assert store.get(job.id).next_run_at == SLOT + 60_000
    assert store.due(store.due_shard(job.id), SLOT + 60_000) == []  # not due before its new cursor
    assert [found.id for found in store.due(store.due_shard(job.id), SLOT + 60_001)] == [job.id]


def test_advancing_to_none_takes_the_job_out_of_the_due_index(aws):
    job = new_job()
    assert store.advance(job, None) is True
    assert store.get(job.id).next_run_at is None
    assert store.due(store.due_shard(job.id), SLOT + 10**12) == []
    assert store.advance(job, SLOT + 60_000) is False  # the cursor is no longer where `job` saw it


def test_a_disabled_job_is_never_due(aws):
    job = new_job(enabled=False)
    assert store.get(job.id).next_run_at is None
    assert store.due(store.due_shard(job.id), SLOT + 10**12) == []


def test_complete_marks_a_stored_job_only(aws):
    job = new_job()
    assert store.complete(job.id, SLOT + 5) is True
    assert store.get(job.id).completed_at == SLOT + 5
    assert store.due(store.due_shard(job.id), SLOT + 10**12) == []  # a completed job is not due
    assert store.complete(job.id + 1_000, SLOT) is False
    assert store.get(job.id + 1_000) is None  # nothing was created


def test_a_create_cancelled_by_a_concurrent_transaction_is_tried_again_not_a_name_conflict(aws, monkeypatch):
    """On AWS two creates in one application meet on its job counters: DynamoDB cancels one with
    TransactionConflict (no condition failed). That is tried again, never answered as a taken name."""
    from pynamodb import transactions
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    real_commit, calls = transactions.TransactWrite._commit, []

    def conflict_once(self):
        calls.append(1)
        if len(calls) == 1:
            reasons = [None, CancellationReason("TransactionConflict")]
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}
            cause = VerboseClientError(error, "TransactWriteItems", cancellation_reasons=reasons)
            raise TransactWriteError("cancelled", cause=cause)
        return real_commit(self)

    monkeypatch.setattr(transactions.TransactWrite, "_commit", conflict_once)
    spec = JobSpec.model_validate({"applicationId": APP, "name": "raced", "pattern": "0 2 * * *",
                                   "taskConfig": {"endpoint": "https://api.example.com"}})  # fmt: skip
    job = Job(id=keys.allocate_ids("job"), spec=spec, version=1, created_at=1, updated_at=1, next_run_at=SLOT)
    store.create(job, None)
    assert len(calls) == 2 and store.get(job.id) is not None
