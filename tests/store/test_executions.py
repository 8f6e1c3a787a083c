"""The execution store's state changes, each one conditional write (chalicelib/store/executions.py): a change
returns the record as it now stands, or None when the item is no longer as the caller saw it, and then the item
is left as it was. The invoker's exactly-once and its take-overs rest on these conditions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.store import executions as store
from chalicelib.store.records import Execution

JOB, APP = 7, 3
SLOT = 1_780_000_000_000
NOW = SLOT + 40
ERROR = {"code": "HTTP_503", "message": "the target answered HTTP 503"}


@pytest.fixture
def running(aws: None) -> Execution:
    """A scheduled run claimed by its invoker: running, attempt 1."""
    claimed = store.claim(JOB, APP, SLOT, NOW, snapshot="v1")
    assert claimed is not None
    return claimed


@pytest.fixture
def pending(aws: None) -> Execution:
    """A manual run asked for and not started yet."""
    asked = store.create_pending(JOB, APP, SLOT, "manual", NOW, created_by="mia")
    assert asked is not None
    return asked


def finish(execution: Execution, **fields: Any) -> Execution | None:
    """running -> final (succeeded unless `fields` say otherwise), at NOW + 500."""
    produced: dict[str, Any] = {"status": "succeeded", "now_ms": NOW + 500, "result": {"status": 200}, "error": None,
                                "attempts": [{"at": "t", "error": None}]}  # fmt: skip
    return store.finish(execution, **{**produced, **fields})


# --- creating a run: the first write of a (job, slot) wins -----------------------------------------------------


def test_a_claim_puts_the_run_running_at_attempt_one(running):
    assert (running.status, running.trigger, running.attempt) == ("running", "schedule", 1)
    assert running.started_at == running.attempt_started_at == NOW  # later than the slot: now
    assert store.get(JOB, SLOT) == running


def test_a_claim_made_ahead_of_its_slot_starts_on_the_slot(aws):
    early = store.claim(JOB, APP, SLOT, SLOT - 2_000, snapshot=None)
    assert early.started_at == SLOT and early.created_at == SLOT - 2_000


def test_a_second_claim_of_the_same_slot_gets_none_and_changes_nothing(running):
    assert store.claim(JOB, APP, SLOT, NOW + 10, snapshot="v2") is None
    assert store.get(JOB, SLOT) == running
    assert store.claim(JOB, APP, SLOT + 60_000, NOW, snapshot="v1") is not None  # the next slot is its own


CREATE = {
    "claim": lambda at: store.claim(JOB, APP, SLOT, at, snapshot=None),
    "create_pending": lambda at: store.create_pending(JOB, APP, SLOT, "manual", at),
    "put_failed": lambda at: store.put_failed(JOB, APP, SLOT, "schedule", at, "LOST", "gone"),
}


@pytest.mark.parametrize("first", list(CREATE))
def test_every_way_of_creating_a_run_gets_none_when_the_slot_has_a_record(aws, first):
    made = CREATE[first](NOW)
    assert made is not None
    assert [CREATE[second](NOW + 10) for second in CREATE] == [None, None, None]
    assert store.get(JOB, SLOT) == made


def test_a_run_that_ended_before_any_record_is_put_failed_with_its_error(aws):
    failed = store.put_failed(JOB, APP, SLOT, "manual", NOW, "LOST", "its message went to the dead-letter queue")
    assert (failed.status, failed.trigger, failed.attempt, failed.finished_at) == ("failed", "manual", 0, NOW)
    assert store.get(JOB, SLOT).error == {"code": "LOST", "message": "its message went to the dead-letter queue"}


# --- each change returns the record as stored ------------------------------------------------------------------


def test_finish_returns_the_record_as_stored(running):
    done = finish(running, status="failed", result={"status": 503}, error=ERROR, request={"method": "GET", "url": "u"},
                  called_at=NOW + 100)  # fmt: skip
    assert done is not None and done == store.get(JOB, SLOT)
    assert (done.status, done.finished_at, done.error) == ("failed", NOW + 500, ERROR)
    assert done.started_at == NOW + 100 and done.lag_ms == NOW + 100 - SLOT  # the first attempt's are its call's
    assert done.duration_ms == 400
    assert running.status == "running"  # the record handed in is not changed


def test_start_moves_pending_to_running_and_returns_the_record_as_stored(pending):
    started = store.start(pending, NOW + 1_000, "v1")
    assert started is not None and started == store.get(JOB, SLOT)
    assert (started.status, started.attempt, started.snapshot) == ("running", 1, "v1")
    assert started.started_at == started.attempt_started_at == NOW + 1_000 and started.lag_ms == 1_040
    assert store.start(pending, NOW + 1_001, "v1") is None  # a second delivery of the run starts nothing
    assert store.get(JOB, SLOT) == started


def test_a_retry_keeps_the_first_attempts_start_and_lag(pending):
    first = store.start(pending, NOW + 1_000, "v1")
    attempts = [{"at": "t1", "error": ERROR}]
    waiting = store.retry_later(first, attempts, due_at=NOW + 5_000)
    assert waiting is not None and waiting == store.get(JOB, SLOT)
    assert (waiting.status, waiting.due_at, waiting.attempts) == ("pending", NOW + 5_000, attempts)
    second = store.start(waiting, NOW + 5_000, "v2")
    assert second is not None and second == store.get(JOB, SLOT)
    assert (second.attempt, second.snapshot, second.attempt_started_at) == (2, "v2", NOW + 5_000)
    assert second.started_at == NOW + 1_000 and second.lag_ms == 1_040  # still the first attempt's


def test_a_take_over_starts_the_next_attempt_of_a_running_run(running):
    lost = [{"at": "t1", "error": {"code": "LOST", "message": "the invoker stopped"}}]
    taken = store.take_over(running, NOW + 90_000, lost)
    assert taken is not None and taken == store.get(JOB, SLOT)
    assert (taken.status, taken.attempt, taken.attempt_started_at, taken.attempts) == ("running", 2, NOW + 90_000, lost)
    assert taken.started_at == running.started_at


@pytest.mark.parametrize("fixture", ["pending", "running"])
def test_fail_ends_a_pending_or_running_run_and_lists_the_running_attempt(request, fixture):
    execution: Execution = request.getfixturevalue(fixture)
    failed = store.fail(execution, NOW + 900, "LOST", "no attempt is left")
    assert failed is not None and failed == store.get(JOB, SLOT)
    assert (failed.status, failed.finished_at, failed.error["code"]) == ("failed", NOW + 900, "LOST")
    assert [a["error"]["code"] for a in failed.attempts] == (["LOST"] if fixture == "running" else [])


# --- a change from a state the run has left gets None and writes nothing ---------------------------------------


TRANSITIONS = {
    "start": lambda e: store.start(e, NOW + 2_000, "v9"),
    "finish": lambda e: finish(e),
    "retry_later": lambda e: store.retry_later(e, [{"at": "t", "error": ERROR}], due_at=NOW + 9_000),
    "take_over": lambda e: store.take_over(e, NOW + 2_000, []),
    "fail": lambda e: store.fail(e, NOW + 2_000, "LOST", "gone"),
}


def test_a_change_of_a_running_attempt_gets_none_on_a_pending_run(pending):
    as_if_running = replace(pending, status="running")  # a caller that saw another state
    for transition in ("finish", "retry_later", "take_over", "fail"):
        assert TRANSITIONS[transition](as_if_running) is None, transition
    assert store.get(JOB, SLOT) == pending


def test_start_gets_none_on_a_running_run(running):
    assert store.start(replace(running, status="pending"), NOW + 2_000, "v9") is None
    assert store.get(JOB, SLOT) == running


@pytest.mark.parametrize("transition", list(TRANSITIONS))
def test_a_change_made_from_a_stale_record_gets_none_and_writes_nothing(running, transition):
    """Another delivery moved the run on (here: finished it) after this caller read it: whatever the caller
    then tries with what it read is refused, and the finished run stays as it is."""
    done = finish(running)
    assert done is not None
    stale = running if transition != "start" else replace(running, status="pending")
    assert TRANSITIONS[transition](stale) is None
    assert store.get(JOB, SLOT) == done


@pytest.mark.parametrize("transition", ["finish", "retry_later", "take_over", "fail"])
def test_an_attempt_that_was_taken_over_no_longer_owns_its_run(running, transition):
    taken = store.take_over(running, NOW + 90_000, [])
    assert taken is not None
    assert TRANSITIONS[transition](running) is None  # attempt 1 is over: attempt 2 owns the run
    assert store.get(JOB, SLOT) == taken


def test_a_missing_run_reads_as_none(aws):
    assert store.get(JOB, SLOT) is None
    assert store.take_over(Execution(JOB, SLOT, 1, APP, "running", "schedule", 1, NOW), NOW, []) is None
    assert store.get(JOB, SLOT) is None  # a refused change creates nothing


def test_fail_never_turns_a_finished_run_into_a_failed_one(running):
    finished = store.finish(running, store.SUCCEEDED, running.started_at + 5, result={"status": 200}, error=None,
                            attempts=[])  # fmt: skip
    assert finished is not None
    assert store.fail(finished, finished.finished_at + 1, "LOST", "too late") is None
    assert store.get(running.job_id, running.slot).status == store.SUCCEEDED
