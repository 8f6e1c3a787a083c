"""Fault tests: whatever happens, no slot is lost and none runs twice.

Also covered elsewhere: duplicate delivery and a retried tick (test_runs), SQS down between claim and send
(test_runs), a dead invoker and a lost message (test_sweep), a target that hangs or sends garbage or 10 MB
(test_runs), two concurrent ticks with every run delivered (test_runs, 20 jobs). Here: 1,000 jobs under two
concurrent ticks, and DynamoDB throttling on the execution writes.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.core.botocore_stubber import BotocoreStubber

from chalicelib.clock import now_ms
from chalicelib.settings import get_settings
from chalicelib.store import executions as execution_store
from chalicelib.store.models import ExecutionModel, JobModel
from tests.conftest import ONE_ATTEMPT, YEARLY


@pytest.mark.slow
def test_two_concurrent_ticks_over_a_thousand_due_jobs(api, engine, target):
    app_id = api.make_app()["id"]
    config = {"endpoint": target.base}
    template = api.make_job(app_id, name="template", pattern=YEARLY, taskConfig=config, enabled=False)
    stored = JobModel.get(template["id"])
    slot = now_ms() + 1_500
    shards = get_settings().due_shards
    with JobModel.batch_write() as batch:  # seeding 1,000 jobs through the API would be 1,000 transactions
        for job_id in range(1_000, 2_000):
            fields = {
                "applicationId": app_id, "name": f"j{job_id}", "enabled": True, "pattern": YEARLY,
                "timezone": "UTC", "taskType": "HttpInvokerTask", "retryPolicy": ONE_ATTEMPT,
                "taskConfig": {**stored.taskConfig, "path": f"/job/{job_id}"}, "createdAt": slot,
                "updatedAt": slot - 60_000, "version": 1, "nextRunAt": slot, "dueShard": job_id % shards,
            }  # fmt: skip
            batch.save(JobModel(job_id, **fields))
    at = now_ms()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(engine.tick, [at, at]))
    claimed = sum(r.dispatched - r.resent for r in reports)
    resent = sum(r.resent for r in reports)
    assert claimed == 1_000, reports  # each slot claimed by exactly one of the two ticks
    executions = Counter(len(list(ExecutionModel.query(job_id))) for job_id in range(1_000, 2_000))
    assert executions == {1: 1_000}
    assert all(int(job.nextRunAt) > slot for job in JobModel.batch_get(list(range(1_000, 2_000))))
    attributes = engine.sqs.get_queue_attributes(QueueUrl=engine.url, AttributeNames=["All"])["Attributes"]
    queued = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesDelayed"])
    assert queued == 1_000 + resent  # a re-sent message is dropped by the invoker's pending -> running check


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

    def start(operation: str, times: int, job_id: int | None = None) -> Throttle:
        made.append(Throttle(operation, get_settings().executions_table, times, job_id))
        return made[-1]

    return start


def test_throttled_execution_writes_neither_lose_nor_double_a_run(api, engine, target, throttle, monkeypatch):
    monkeypatch.setattr(execution_store, "PATIENCE_SECONDS", (0.05, 0.05, 0.05, 0.05))
    app_id = api.make_app()["id"]
    job = api.make_job(app_id, name="throttled", pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip

    claim = throttle("PutItem", times=3)  # within botocore's retries: the tick does not notice
    engine.make_due(job["id"])
    assert engine.tick().dispatched == 1 and claim.seen == 3

    # start and finish both throttled past botocore's 4 attempts: our patience carries the outcome through
    writes = throttle("UpdateItem", times=6)
    assert engine.deliver(engine.receive(wait=2)) == []
    assert writes.seen == 6
    (execution,) = engine.executions(job["id"])
    assert execution.status == "succeeded" and int(execution.attempt) == 1
    assert len(target.requests) == 1


def test_a_claim_throttled_past_every_retry_waits_for_the_next_tick(api, engine, target, throttle):
    app_id = api.make_app()["id"]
    config = {"endpoint": target.base, "path": "/ok"}
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, retryPolicy=ONE_ATTEMPT, taskConfig=config)
            for i in range(3)]  # fmt: skip
    slots = {job["id"]: engine.make_due(job["id"], in_ms=1_500) for job in jobs}

    claim = throttle("PutItem", times=4, job_id=jobs[0]["id"])  # fails all 4 of botocore's attempts
    first = engine.tick()
    assert claim.seen == 4 and first.claim_failures == 1 and first.dispatched == 2  # the others went out
    second = engine.tick()
    assert second.dispatched == 1 and second.claim_failures == 0
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(records) < 3 and time.monotonic() < deadline:  # delays count from each tick's start
        records += engine.receive(wait=1)
    assert engine.deliver(records) == []
    for job in jobs:
        (execution,) = engine.executions(job["id"])
        assert int(execution.slot) == slots[job["id"]] and execution.status == "succeeded"
    assert len(target.requests) == 3


def test_a_conditional_claim_is_won_by_exactly_one_of_racing_writers(aws):
    """What DynamoDB guarantees and the engine's exactly-once rests on, checked through moto made atomic
    (chalicelib/local/atomic.py): 8 threads race for each of 300 slots, each slot has one winner."""
    slots = range(1_000_000, 1_000_300)

    def claim_all(_worker: int) -> int:
        return sum(execution_store.create_pending(7, 1, slot, "schedule", slot) is not None for slot in slots)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a non-atomic check-then-write shows
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            wins = sum(pool.map(claim_all, range(8)))
    finally:
        sys.setswitchinterval(interval)
    assert wins == len(slots)
