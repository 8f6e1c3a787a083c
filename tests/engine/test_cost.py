"""Cost per run is a feature: the AWS requests one scheduled run makes, and the DynamoDB write units they cost,
are counted and pinned here.

Counted by hooking botocore (both boto3 and PynamoDB go through it): requests here, write units with the
`write_units` meter of tests/conftest.py. The README's engine section turns them into money.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.settings import get_settings
from tests.conftest import ONE_ATTEMPT, YEARLY, run_events


def test_requests_per_scheduled_run(api, engine, target, requests_made):
    app_id = api.make_app()["id"]
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, taskConfig={"endpoint": target.base})
            for i in range(10)]  # fmt: skip
    for job in jobs:
        engine.make_due(job["id"], in_ms=300)
    requests_made.clear()
    report = engine.tick()
    tick = dict(requests_made)
    requests_made.clear()
    engine.deliver(engine.receive())
    run = dict(requests_made)
    assert report.dispatched == 10 and report.advanced == 10 and len(target.requests) == 10
    assert {job["id"] % get_settings().due_shards for job in jobs} == {0, 1, 2, 3}  # every shard holds a due job
    # the tick, for 10 due jobs: per shard one due query (index keys only) and one batch read of the jobs it
    # found; one batched send of the ten slots; one conditional update of each job's cursor; one write of the
    # tick record; one batch read of the late-watch set (the jobs with alerts.lateAfterSeconds: none here). No
    # execution is written
    assert tick == {
        "dynamodb.Query": 4,
        "dynamodb.BatchGetItem": 4 + 1,
        "sqs.SendMessageBatch": 1,
        "dynamodb.UpdateItem": 10,
        "dynamodb.PutItem": 1,
    }
    # the invoker, per run: read the job, read its application's signing keys, claim the slot (a conditional put
    # as `running`), running->final, one PutEvents of its outcome event (put as the run ends); per batch one
    # visibility change and one stats counter write (one application, one hour, one status); once per process the
    # application's data key is unwrapped (KMS); plus (test harness, as Lambda's event source does) one receive and
    # one batched delete
    assert run == {
        "sqs.ChangeMessageVisibilityBatch": 1,
        "dynamodb.GetItem": 10 + 10,
        "kms.Decrypt": 1,
        "dynamodb.PutItem": 10,
        "dynamodb.UpdateItem": 10 + 1,
        "events.PutEvents": 10,
        "sqs.ReceiveMessage": 2,
        "sqs.DeleteMessageBatch": 1,
    }


def test_a_job_that_does_not_sign_reads_no_key(api, engine, target, requests_made):
    app_id = api.make_app()["id"]
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "sign": False})
    engine.make_due(job["id"], in_ms=300)
    engine.tick()
    requests_made.clear()
    engine.deliver(engine.receive())
    assert requests_made["dynamodb.GetItem"] == 1 and "kms.Decrypt" not in requests_made


def test_execution_events_carry_the_masked_execution(api, engine, target, bus_queue):
    app_id = api.make_app()["id"]
    auth = {"authMethod": "bearer", "token": "tok-9"}
    config = {"endpoint": target.base, "path": "/status/500?day=${T:YYYY-MM-DD}", "auth": auth}
    job = api.make_job(app_id, pattern=YEARLY, taskConfig=config, retryPolicy=ONE_ATTEMPT)
    slot = engine.make_due(job["id"])
    engine.run_due()
    received = bus_queue()
    runs = run_events(received)
    assert [kind for kind, _ in runs] == ["failed"]  # one event a run by default: its outcome
    final = runs[0][1]
    assert final["status"] == "failed" and final["error"]["code"] == "HTTP_500"
    assert final["jobSnapshot"]["taskConfig"]["auth"]["token"] == "********" and "tok-9" not in json.dumps(received)
    # the execution as the API shows it, its snapshot rebuilt from the job version's and the resolved values
    shown = api.get(f"/_/scheduler/executions/{final['id']}").json
    assert final == shown
    from chalicelib.clock import iso

    day = (iso(slot) or "")[:10]
    assert final["jobSnapshot"]["taskConfig"]["path"] == f"/status/500?day={day}"
    assert final["jobSnapshot"]["request"] == {"method": "GET", "url": f"{target.base}/status/500?day={day}"}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("failed", ["failed"]),
        ("none", []),
        ("started,succeeded", ["started"]),
        ("started,failed", ["started", "failed"]),
        ("", ["failed"]),  # unset: succeeded,failed
    ],
)
def test_execution_events_setting_chooses_which_run_events_are_published(
    api, engine, target, bus_queue, settings_env, setting, expected
):
    settings_env.setenv("EXECUTION_EVENTS", setting)
    app_id = api.make_app()["id"]
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/status/500"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    engine.make_due(job["id"])
    engine.run_due()
    received = bus_queue()
    assert [kind for kind, _ in run_events(received)] == expected
    assert "scheduler.job.created" in [event["detail-type"] for event in received]  # job events are not affected


def test_write_units_per_scheduled_run(api, engine, target, write_units):
    """Write units are what a run costs on DynamoDB: each table and index write, counted from the item images
    (tests/conftest.py, WriteUnits). Pinned so an added index or a grown item shows up here, not on the bill."""
    app_id = api.make_app()["id"]
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/ok"},
                         retryPolicy=ONE_ATTEMPT) for i in range(10)]  # fmt: skip
    for job in jobs:
        engine.make_due(job["id"], in_ms=300)
    settings = get_settings()
    tables = (settings.jobs_table, settings.executions_table, settings.keys_table, settings.applications_table)
    write_units.clear()
    assert engine.tick().advanced == 10
    tick = {table: write_units.of(table) for table in tables}
    write_units.clear()
    assert engine.deliver(engine.receive()) == []
    run = {table: write_units.of(table) for table in tables}
    assert len(target.requests) == 10
    # per job, the tick: the cursor's advance (the item, and its keys-only due-index entry moving: a delete and
    # a put); plus the tick record, once. No execution is written
    assert tick == {settings.jobs_table: 10 * 3, settings.executions_table: 0, settings.keys_table: 1,
                    settings.applications_table: 0}  # fmt: skip
    # per run, the invoker: the claim (the item, under 1 KB, and its by-application index entry) and
    # running->final (the item only: the index keeps keys); one stats counter write for the batch
    assert run == {settings.jobs_table: 0, settings.executions_table: 10 * 3, settings.keys_table: 1,
                   settings.applications_table: 0}  # fmt: skip
