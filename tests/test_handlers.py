"""app.py's functions driven as AWS drives them, through Chalice's test client (`client.lambda_.invoke` with the
events `client.events` generates): the minute tick, the invoker on a run message and on a tick shard message, the
dead-letter handler, and the bootstrap function."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib.clock import now_ms
from chalicelib.queue import RunMessage, ShardMessage
from chalicelib.settings import get_settings
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from tests.conftest import ONE_ATTEMPT, YEARLY


@pytest.fixture
def client(api) -> Client:
    """The app's test client, with the dev stage's configuration (what `chalice deploy` gives each function)."""
    return api.client


@pytest.fixture
def job(api, target):
    """A yearly job against the local target (no slot of its own comes near: each test makes it due)."""
    app_id = api.make_app()["id"]
    return api.make_job(app_id, pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                        taskConfig={"endpoint": target.base, "path": "/echo"})  # fmt: skip


def run_messages(engine, job_id: int) -> list[RunMessage]:
    return [m for m, _ in engine.queued() if isinstance(m, RunMessage) and m.job_id == job_id]


def invoker_event(client: Client, bodies: list[str]) -> dict:
    return client.events.generate_sqs_event(message_bodies=bodies, queue_name=get_settings().invoker_queue_name)


def test_the_scheduled_tick_sends_a_due_jobs_slot(client, engine, job):
    slot = engine.make_due(job["id"], in_ms=500)
    scheduled = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])  # fmt: skip
    report = client.lambda_.invoke("tick", scheduled).payload
    assert report["due_jobs"] == 1 and report["dispatched"] == 1 and report["advanced"] == 1
    assert [(m.slot, m.trigger) for m in run_messages(engine, job["id"])] == [(slot, "schedule")]
    assert job_store.get(job["id"]).next_run_at > slot  # the cursor moved past the sent slot


def test_the_invoker_runs_a_run_message_against_the_target_and_stores_its_execution(api, client, engine, target, job):
    slot = engine.make_due(job["id"], in_ms=150)
    engine.tick()
    bodies = [record["body"] for record in engine.receive()]
    assert len(bodies) == 1
    answer = client.lambda_.invoke("invoke", invoker_event(client, bodies)).payload
    assert answer == {"batchItemFailures": []}
    assert [request["path"] for request in target.requests] == ["/echo"]
    execution = execution_store.get(job["id"], slot)
    assert execution.status == "succeeded" and execution.result["status"] == 200
    assert api.get(f"/_/scheduler/executions/{execution.id}").json["status"] == "succeeded"


def test_the_invoker_hands_a_tick_shard_message_to_the_engine(client, engine, job):
    slot = engine.make_due(job["id"], in_ms=1_000)
    shard = ShardMessage(job["id"] % get_settings().due_shards, now_ms())
    answer = client.lambda_.invoke("invoke", invoker_event(client, [shard.encode()])).payload
    assert answer == {"batchItemFailures": []}
    assert [m.slot for m in run_messages(engine, job["id"])] == [slot]  # the shard's due job was dispatched
    assert job_store.get(job["id"]).next_run_at > slot
    assert execution_store.get(job["id"], slot) is None  # dispatching writes no execution


def test_one_failing_message_does_not_make_its_batch_run_again(api, client, engine, target, job):
    app_id = job["application"]["id"]
    jobs = [job] + [
        api.make_job(app_id, name=f"n{i}", pattern=YEARLY, taskConfig={"endpoint": target.base, "path": f"/n{i}"})
        for i in range(2)
    ]
    for item in jobs:
        engine.make_due(item["id"])
    engine.tick()
    records = engine.receive()
    assert len(records) == 3
    broken = dict(records[2], body="{not json")
    event = {"Records": [dict(r, eventSource="aws:sqs", attributes={}, messageAttributes={}) for r in records[:2]]
             + [dict(broken, eventSource="aws:sqs", attributes={}, messageAttributes={})]}  # fmt: skip
    with pytest.raises(Exception, match="1 of 3 messages failed"):
        client.lambda_.invoke("invoke", event)
    assert len(target.requests) == 2
    engine.sqs.change_message_visibility(QueueUrl=engine.url, ReceiptHandle=records[2]["receiptHandle"],
                                         VisibilityTimeout=0)  # fmt: skip
    again = engine.receive()
    assert [json.loads(r["body"])["jobId"] for r in again] == [json.loads(records[2]["body"])["jobId"]]
    engine.deliver(again)
    assert sorted(r["path"] for r in target.requests) == ["/echo", "/n0", "/n1"]


def test_the_dead_letter_handler_ends_a_running_run_lost_once(api, client, engine, target, job, bus_queue):
    slot = now_ms() - 60_000
    claimed = execution_store.claim(job["id"], job["application"]["id"], slot, slot, snapshot=None)
    assert claimed.status == "running"  # its invoker died; its message failed every delivery
    message = RunMessage(job["id"], slot, "schedule", job["application"]["id"], dispatched_at=slot - 1_000, timeout=30)
    dead = client.events.generate_sqs_event(message_bodies=[message.encode()],
                                            queue_name=get_settings().dead_letter_queue_name)  # fmt: skip
    assert client.lambda_.invoke("dead_letters_handler", dead).payload == {"ended": 1}
    assert client.lambda_.invoke("dead_letters_handler", dead).payload == {"ended": 0}  # delivered again
    execution = execution_store.get(job["id"], slot)
    assert execution.status == "failed" and execution.error["code"] == "LOST" and execution.attempt == 1
    assert target.requests == []
    events = [(e["detail-type"], e["detail"]["execution"]["id"]) for e in bus_queue() if "execution" in e["detail"]]
    assert events == [("scheduler.job.execution.failed", execution.id)]
    assert api.get("/_/scheduler/stats").json["executions"]["last24h"] == {"succeeded": 0, "failed": 1, "skipped": 0}


def test_the_bootstrap_function_syncs_the_shipped_demo(api, client):
    plan = client.lambda_.invoke("bootstrap", {"dryRun": False}).payload
    assert plan["errors"] == [] and plan["plan"][0]["action"] == "create-application"
    assert {j["name"] for j in api.get("/_/scheduler/jobs").json} == {"self-health-check", "nightly-report-window"}
