"""Fault tests: whatever happens, no slot is lost and none runs twice.

The engine's exactly-once rests on the invoker's claim: a scheduled slot's run is a conditional put of its
execution as it starts, so every other delivery of the slot (a tick that sent it twice, SQS's own duplicates, a
redelivery) finds the record. A dead invoker is found by its message coming back (held for the job's timeout and a
margin); a message that fails every delivery ends its run in the dead-letter handler.

Also covered elsewhere: duplicate delivery, two concurrent ticks with every run delivered, SQS down at dispatch
(test_runs); a target that hangs or sends garbage or 10 MB (test_runs, tests/invoker). Here: 1,000 jobs under two
concurrent ticks, DynamoDB throttling, an invoker killed after its claim, the dead-letter queue, a tick killed
between its sends and its cursor's advance, and slots taken away after dispatch.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from moto.core.botocore_stubber import BotocoreStubber

from chalicelib import queue
from chalicelib.clock import now_ms
from chalicelib.invoker import dead_letters
from chalicelib.invoker import run as invoker
from chalicelib.queue import RunMessage
from chalicelib.settings import get_settings
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.models import ExecutionModel, JobModel
from tests.conftest import ONE_ATTEMPT, YEARLY, run_events

STATS = "/_/scheduler/stats"
TIMEOUT_MS = 30_000  # the jobs' default timeout
STALE_MS = TIMEOUT_MS + invoker.STALE_MARGIN_MS  # a running attempt this old has lost its invoker


def outcomes(api) -> dict[str, int]:
    return api.get(STATS).json["executions"]["last24h"]


def nothing_counted() -> dict[str, int]:
    return {"succeeded": 0, "failed": 0, "skipped": 0}


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


# --- two ticks at once -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_concurrent_ticks_over_a_thousand_due_jobs(api, engine, target, app_id):
    template = api.make_job(app_id, name="template", pattern=YEARLY, taskConfig={"endpoint": target.base},
                            retryPolicy=ONE_ATTEMPT, enabled=False)  # fmt: skip
    spec = job_store.get(template["id"]).spec
    slot = now_ms() + 1_500
    shards = get_settings().due_shards
    with JobModel.batch_write() as batch:  # seeding 1,000 jobs through the API would be 1,000 transactions
        for job_id in range(1_000, 2_000):
            config = spec.taskConfig.model_copy(update={"path": f"/job/{job_id}"})
            written = spec.model_copy(update={"name": f"j{job_id}", "enabled": True, "taskConfig": config})
            batch.save(JobModel(job_id, applicationId=app_id, name=written.name, enabled=True,
                                spec=job_store.spec_bytes(written), createdAt=slot - 60_000, updatedAt=slot - 60_000,
                                version=1, nextRunAt=slot, dueShard=job_id % shards))  # fmt: skip
    at = now_ms()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(engine.tick, [at, at]))
    assert sum(r.due_jobs for r in reports) >= 1_000 and sum(r.failed_sends for r in reports) == 0
    assert sum(r.advanced for r in reports) == 1_000, reports  # each cursor moved by exactly one of the two
    sent = sum(r.dispatched for r in reports)
    assert 1_000 <= sent <= 2_000  # a job both ticks found is sent twice: its second run is dropped by the claim
    assert all(int(job.nextRunAt) > slot for job in JobModel.batch_get(list(range(1_000, 2_000))))
    assert sum(1 for _ in ExecutionModel.scan()) == 0  # the ticks write no execution
    per_job = Counter(message.job_id for message, _ in engine.queued() if isinstance(message, RunMessage))
    assert sum(per_job.values()) == sent and set(per_job) == set(range(1_000, 2_000))
    assert set(per_job.values()) <= {1, 2}


# --- DynamoDB throttling -----------------------------------------------------------------------------------------


class Throttle:
    """DynamoDB answers ProvisionedThroughputExceeded to the first `times` matching requests, in place of
    moto (below botocore's retry layer, so botocore's retries and ours both meet it, and nothing is written)."""

    def __init__(self, operation: str, table: str, times: int, job_id: int | None) -> None:
        self.target, self.table, self.left, self.seen = f"DynamoDB_20120810.{operation}", table, times, 0
        self.job_id = job_id

    def answer(self, request) -> tuple[int, dict[str, str], str] | None:
        if request.headers.get("X-Amz-Target", b"") not in (self.target, self.target.encode()) or self.left == 0:
            return None
        body = json.loads(request.body or b"{}")
        if body.get("TableName") != self.table:
            return None
        item = body.get("Item") or body.get("Key") or {}
        if self.job_id is not None and item.get("jobId", {}).get("N") != str(self.job_id):
            return None
        self.left -= 1
        self.seen += 1
        body = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded."}  # fmt: skip
        return 400, {"x-amzn-ErrorType": "ProvisionedThroughputExceededException"}, json.dumps(body)


@pytest.fixture
def throttle(aws, monkeypatch):
    made: list[Throttle] = []
    process = BotocoreStubber.process_request

    def process_request(stubber, request):
        for item in made:
            if (answer := item.answer(request)) is not None:
                return answer
        return process(stubber, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)
    # the attempts are what is tested, not their pauses: botocore's backoff and ours are not waited out
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda seconds: None))
    monkeypatch.setattr(execution_store, "PATIENCE_SECONDS", (0.0, 0.0, 0.0, 0.0))

    def start(operation: str, times: int, job_id: int | None = None) -> Throttle:
        made.append(Throttle(operation, get_settings().executions_table, times, job_id))
        return made[-1]

    return start


def test_throttled_execution_writes_neither_lose_nor_double_a_run(api, engine, target, throttle, app_id):
    job = api.make_job(app_id, name="throttled", pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip
    engine.make_due(job["id"])
    assert engine.tick().dispatched == 1

    # the claim and the finish both throttled past botocore's 4 attempts: our patience carries them through
    claim = throttle("PutItem", times=6)
    finish = throttle("UpdateItem", times=6)
    assert engine.deliver(engine.receive(wait=2)) == []
    assert claim.seen == 6 and finish.seen == 6
    (execution,) = engine.executions(job["id"])
    assert execution.status == "succeeded" and execution.attempt == 1
    assert len(target.requests) == 1


def test_a_claim_throttled_past_every_retry_comes_back_with_its_message(api, engine, target, throttle, app_id):
    config = {"endpoint": target.base, "path": "/ok"}
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, retryPolicy=ONE_ATTEMPT, taskConfig=config)
            for i in range(3)]  # fmt: skip
    slots = {job["id"]: engine.make_due(job["id"]) for job in jobs}
    assert engine.tick().dispatched == 3
    records = engine.receive()

    # botocore's 4 attempts on each of our 5 tries: the run cannot be recorded, so it does not start
    claim = throttle("PutItem", times=20, job_id=jobs[0]["id"])
    failed = engine.deliver(records)
    assert claim.seen == 20 and [json.loads(r["body"])["jobId"] for r in failed] == [jobs[0]["id"]]
    assert engine.executions(jobs[0]["id"]) == [] and len(target.requests) == 2  # the others ran
    assert engine.deliver(engine.redeliver(failed)) == []  # its message comes back: now it runs
    for job in jobs:
        (execution,) = engine.executions(job["id"])
        assert execution.slot == slots[job["id"]] and execution.status == "succeeded"
    assert len(target.requests) == 3


def test_a_conditional_claim_is_won_by_exactly_one_of_racing_writers(aws):
    """What DynamoDB guarantees and the engine's exactly-once rests on, checked through moto made atomic
    (chalicelib/local/atomic.py): 8 threads race for each of 300 slots, each slot has one winner."""
    slots = range(1_000_000, 1_000_300)

    def claim_all(_worker: int) -> int:
        return sum(execution_store.claim(7, 1, slot, slot, snapshot=None) is not None for slot in slots)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a non-atomic check-then-write shows
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            wins = sum(pool.map(claim_all, range(8)))
    finally:
        sys.setswitchinterval(interval)
    assert wins == len(slots)


# --- an invoker killed after its claim -----------------------------------------------------------------------


class Killed(BaseException):
    """The invoker's process ends mid-run (a Lambda timeout, an out-of-memory kill): nothing after it runs."""


def killed_after_its_claim(engine, monkeypatch, records, at: int | None = None) -> None:
    """Deliver `records` (one run) to an invoker whose clock reads `at` and that dies once the run is claimed,
    before it calls the target."""

    def die(*args: Any, **kwargs: Any) -> None:
        raise Killed()

    with monkeypatch.context() as patch:
        patch.setattr(invoker, "perform", die)
        if at is not None:
            patch.setattr(invoker, "now_ms", lambda: at)
        with pytest.raises(Killed):
            engine.deliver(records)


def claimed_by_a_dead_invoker(api, engine, monkeypatch, job_id: int) -> tuple[int, list[dict[str, Any]]]:
    """A slot whose invoker claimed it and died STALE_MS and two seconds ago; returns (slot, its records)."""
    slot = engine.make_due(job_id, in_ms=-(STALE_MS + 2_000))
    assert engine.tick().dispatched == 1
    records = engine.receive()
    killed_after_its_claim(engine, monkeypatch, records, at=slot)
    running = execution_store.get(job_id, slot)
    assert running.status == "running" and running.attempt == 1 and running.attempt_started_at == slot
    return slot, records


def test_a_run_whose_invoker_died_is_taken_over_once_when_its_message_comes_back(
    api, engine, target, app_id, monkeypatch, bus_queue
):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/ok"})  # 3 attempts
    slot, records = claimed_by_a_dead_invoker(api, engine, monkeypatch, job["id"])
    assert engine.receive() == []  # held for the job's timeout and a margin, then SQS hands it out again

    assert engine.deliver(engine.redeliver(records)) == []
    (execution,) = engine.executions(job["id"])
    assert execution.status == "succeeded" and execution.attempt == 2 and execution.started_at == slot
    assert [(a["error"] or {}).get("code") for a in execution.attempts] == ["LOST", None]
    assert len(target.requests) == 1
    assert [(kind, detail["id"]) for kind, detail in run_events(bus_queue())] == [("succeeded", execution.id)]
    assert outcomes(api) == {"succeeded": 1, "failed": 0, "skipped": 0}

    # any later delivery of the slot finds the run over: dropped, and done with
    assert invoker.handle_records([{"messageId": "again", "body": records[0]["body"]}]) == []
    assert engine.executions(job["id"]) == [execution] and len(target.requests) == 1
    assert run_events(bus_queue()) == [] and outcomes(api)["succeeded"] == 1  # no second event, no second count


def test_a_run_whose_invoker_died_with_no_attempt_left_fails_lost_once(
    api, engine, target, app_id, monkeypatch, bus_queue
):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/ok"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    slot, records = claimed_by_a_dead_invoker(api, engine, monkeypatch, job["id"])

    assert engine.deliver(engine.redeliver(records)) == []
    (execution,) = engine.executions(job["id"])
    assert execution.status == "failed" and execution.error["code"] == "LOST" and execution.attempt == 1
    assert execution.finished_at >= slot + STALE_MS and [a["error"]["code"] for a in execution.attempts] == ["LOST"]
    assert target.requests == []
    assert [(kind, detail["id"]) for kind, detail in run_events(bus_queue())] == [("failed", execution.id)]
    assert outcomes(api) == {"succeeded": 0, "failed": 1, "skipped": 0}

    assert invoker.handle_records([{"messageId": "again", "body": records[0]["body"]}]) == []
    assert engine.executions(job["id"]) == [execution] and target.requests == []
    assert run_events(bus_queue()) == [] and outcomes(api)["failed"] == 1  # no second event, no second count


def test_a_copy_delivered_while_the_attempt_is_fresh_writes_nothing_and_the_held_message_stays(
    api, engine, target, app_id, monkeypatch, bus_queue
):
    """While an attempt is within its job's timeout, another message of its slot (a tick's second send, SQS's own
    duplicate) is a duplicate: dropped without a write. The message the running invoker holds is what comes back
    if that invoker dies."""
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/ok"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    slot = engine.make_due(job["id"])
    engine.tick()
    records = engine.receive()
    killed_after_its_claim(engine, monkeypatch, records)  # now: its attempt is fresh
    running = execution_store.get(job["id"], slot)
    assert running.status == "running"
    hold_ms = (TIMEOUT_MS // 1000 + invoker.VISIBILITY_MARGIN_SECONDS) * 1000
    ((held, back_at),) = engine.queued()
    assert held.slot == slot and now_ms() + hold_ms - 5_000 < back_at <= now_ms() + hold_ms  # timeout + a margin

    assert queue.send([(held, 0)]) == []  # a copy of the slot's message
    copies = engine.receive()
    assert len(copies) == 1 and engine.deliver(copies) == []  # done with: dropped
    assert execution_store.get(job["id"], slot) == running and target.requests == []  # nothing written, no call
    assert run_events(bus_queue()) == [] and outcomes(api) == nothing_counted()
    assert [(message.slot, at) for message, at in engine.queued()] == [(slot, back_at)]  # the held one stays


@pytest.mark.parametrize("change", ["misfire skip", "disabled", "deleted"])
def test_a_claimed_run_is_ended_on_redelivery_whatever_happened_to_its_job(
    api, engine, target, app_id, monkeypatch, bus_queue, change
):
    """The claim is the run: once a slot is claimed, the rules that drop a slot before it starts (misfire, a
    job disabled or deleted after dispatch) must not leave its record `running` for ever when the message
    of its dead invoker comes back. The run ends once (taken over, or failed)."""
    policy = "skip" if change == "misfire skip" else "fire_once"
    job = api.make_job(app_id, pattern=YEARLY, misfirePolicy=policy, taskConfig={"endpoint": target.base})
    slot = now_ms() - STALE_MS - 2_000
    message = RunMessage(job["id"], slot, "schedule", app_id, dispatched_at=now_ms(), timeout=TIMEOUT_MS // 1000)
    assert queue.send([(message, 0)]) == []  # sent after the job's last edit (a forced slot is none of its slots)
    records = engine.receive()
    killed_after_its_claim(engine, monkeypatch, records, at=slot)
    if change == "disabled":
        api.post(f"/_/scheduler/jobs/{job['id']}/disable")
    if change == "deleted":
        api.delete(f"/_/scheduler/jobs/{job['id']}")

    assert engine.deliver(engine.redeliver(records)) == []
    (execution,) = engine.executions(job["id"])
    assert execution.status in ("succeeded", "failed"), execution  # not left running
    assert [detail["id"] for _, detail in run_events(bus_queue())] == [execution.id]
    assert sum(outcomes(api).values()) == 1


def test_a_run_whose_job_timeout_grew_after_dispatch_is_not_left_running_when_its_invoker_dies(
    api, engine, target, app_id, monkeypatch
):
    """A message is held for the timeout its job had when it was sent; the job's timeout can grow after that (a
    dispatch window is 15 minutes long). When that message comes back, its run must still be ended, now or by
    a message that comes back later: never dropped while nothing else would end the run."""
    now = now_ms()
    slot = (now - 90_000) // 60_000 * 60_000  # 90 to 150 s ago: one of the job's hourly slots, not a misfire
    pattern = f"{slot // 60_000 % 60} * * * *"
    job = api.make_job(app_id, pattern=pattern, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/ok", "timeout": TIMEOUT_MS})  # fmt: skip
    message = RunMessage(job["id"], slot, "schedule", app_id, dispatched_at=now_ms(), timeout=TIMEOUT_MS // 1000)
    assert queue.send([(message, 0)]) == []
    records = engine.receive()
    killed_after_its_claim(engine, monkeypatch, records, at=slot)  # held for 30 s + a minute
    grown = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": {"timeout": 600_000}})
    assert grown.status == 200 and grown.json["nextRunAt"] is not None

    engine.deliver(engine.redeliver(records))  # back after its hold: the run's attempt is within its new timeout
    (execution,) = engine.executions(job["id"])
    kept = [at for queued, at in engine.queued() if isinstance(queued, RunMessage) and queued.slot == slot]
    assert execution.status in ("succeeded", "failed") or kept, "the run is running, and no message will end it"


# --- the dead-letter queue -----------------------------------------------------------------------------------


def as_dead_letters(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as the dead-letter queue hands them to its handler (the same bodies)."""
    return [{"messageId": f"dead-{r['messageId']}", "receiptHandle": f"dead-{r['messageId']}", "body": r["body"],
             "eventSource": "aws:sqs", "attributes": {}, "messageAttributes": {}} for r in records]  # fmt: skip


@pytest.mark.parametrize("left", ["nothing recorded", "pending", "running"])
def test_the_dead_letter_handler_ends_a_poisoned_run_once(api, engine, target, app_id, monkeypatch, bus_queue, left):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base}, retryPolicy=ONE_ATTEMPT)
    if left == "pending":  # a manual run whose message never got through
        api.post(f"/_/scheduler/jobs/{job['id']}/trigger")
        records = engine.receive()
    else:
        slot = engine.make_due(job["id"])
        engine.tick()
        records = engine.receive()
        if left == "running":
            killed_after_its_claim(engine, monkeypatch, records)
            assert execution_store.get(job["id"], slot).status == "running"
    dead = as_dead_letters(records)

    if left == "nothing recorded":  # through the function app.py registers on the dead-letter queue
        from chalice.test import Client

        from app import app as chalice_app

        with Client(chalice_app) as client:
            answer = client.lambda_.invoke("dead_letters_handler", {"Records": dead})
        assert answer.payload == {"ended": 1}
    else:
        assert dead_letters.handle(dead) == {"ended": 1}
    assert dead_letters.handle(dead) == {"ended": 0}  # delivered again: already ended
    assert dead_letters.handle(dead + dead) == {"ended": 0}

    (execution,) = engine.executions(job["id"])
    assert execution.status == "failed" and execution.error["code"] == "LOST"
    assert execution.trigger == ("manual" if left == "pending" else "schedule")
    assert execution.attempt == (1 if left == "running" else 0) and target.requests == []
    assert [(kind, detail["id"]) for kind, detail in run_events(bus_queue())] == [("failed", execution.id)]
    assert outcomes(api) == {"succeeded": 0, "failed": 1, "skipped": 0}
    shown = api.get(f"/_/scheduler/executions/{execution.id}").json
    assert shown["status"] == "failed" and shown["error"]["code"] == "LOST"


def test_the_dead_letter_handler_leaves_a_finished_run_alone(api, engine, target, app_id, bus_queue):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base}, retryPolicy=ONE_ATTEMPT)
    engine.make_due(job["id"])
    engine.tick()
    records = engine.receive()
    assert engine.deliver(records) == []
    (finished,) = engine.executions(job["id"])
    assert finished.status == "succeeded"

    assert dead_letters.handle(as_dead_letters(records)) == {"ended": 0}
    assert dead_letters.handle([{"messageId": "junk", "body": "{not json"}]) == {"ended": 0}  # logged, not raised
    assert engine.executions(job["id"]) == [finished]
    assert [kind for kind, _ in run_events(bus_queue())] == ["succeeded"]  # the run's own event only
    assert outcomes(api) == {"succeeded": 1, "failed": 0, "skipped": 0}


# --- a tick killed between its sends and its cursor's advance -------------------------------------------------


@pytest.mark.parametrize("failure", ["refused", "raised"])
def test_a_tick_that_dies_before_advancing_is_repaired_and_each_slot_runs_once(
    api, engine, target, app_id, monkeypatch, failure
):
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                         taskConfig={"endpoint": target.base, "path": f"/{i}"}) for i in range(3)]  # fmt: skip
    slots = {job["id"]: engine.make_due(job["id"], in_ms=300) for job in jobs}

    def advance(job, next_run_at):
        if failure == "raised":
            raise ConnectionError("the tick's process ended here")
        return False  # as if the write never happened

    with monkeypatch.context() as patch:
        patch.setattr(job_store, "advance", advance)
        for _ in range(2):  # killed twice, after sending each time
            if failure == "raised":
                with pytest.raises(ConnectionError):
                    engine.tick()
            else:
                report = engine.tick()
                assert report.dispatched == 3 and report.advanced == 0
            assert {job["id"]: job_store.get(job["id"]).next_run_at for job in jobs} == slots  # the cursors stay
    repaired = engine.tick()
    assert repaired.dispatched == 3 and repaired.advanced == 3
    assert engine.tick().due_jobs == 0

    records = engine.receive(wait=1)
    assert len(records) == 9  # every slot three times
    assert engine.deliver_apart(records) == []  # the copies find the run recorded: dropped
    for job in jobs:
        (execution,) = engine.executions(job["id"])
        assert execution.slot == slots[job["id"]] and execution.status == "succeeded"
    assert sorted(request["path"] for request in target.requests) == ["/0", "/1", "/2"]
    assert outcomes(api) == {"succeeded": 3, "failed": 0, "skipped": 0}


# --- a slot taken away after dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["disabled", "deleted", "rescheduled"])
def test_a_slot_taken_away_after_dispatch_is_dropped_without_a_write(api, engine, target, app_id, bus_queue, change):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base}, retryPolicy=ONE_ATTEMPT)
    engine.make_due(job["id"], in_ms=300)
    assert engine.tick().dispatched == 1
    path = f"/_/scheduler/jobs/{job['id']}"
    if change == "disabled":
        assert api.post(f"{path}/disable").status == 200
    elif change == "deleted":
        assert api.delete(path).status == 204
    else:
        assert api.put(path, {"pattern": "15 3 * * *"}).status == 200  # the dispatched slot is not one of its slots

    assert engine.deliver(engine.receive(wait=1)) == []  # done with
    assert engine.receive() == [] and target.requests == []
    assert engine.executions(job["id"]) == []  # no record
    assert run_events(bus_queue()) == []  # no run event: only counted
    assert outcomes(api) == {"succeeded": 0, "failed": 0, "skipped": 1}
