"""Fault tests: whatever happens, no slot is lost and none runs twice.

Also covered elsewhere: duplicate delivery and a retried tick (test_runs), SQS down between claim and send
(test_runs), a dead invoker and a lost message (test_sweep), a target that hangs or sends garbage or 10 MB
(test_runs), two concurrent ticks with every run delivered (test_runs, 20 jobs).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.clock import now_ms
from chalicelib.settings import get_settings
from chalicelib.store.models import ExecutionModel, JobModel
from tests.engine.test_runs import ONE_ATTEMPT, YEARLY


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
