"""Cost per run is a feature: the AWS requests one scheduled run makes are counted and pinned here.

Counted by hooking botocore (both boto3 and PynamoDB go through it). The figures are requests, not units:
the README's engine section turns them into write/read units and money.
"""

from __future__ import annotations

from collections import Counter

import botocore.client
import pytest

from bench.meter import Meter
from chalicelib.settings import get_settings
from tests.conftest import ONE_ATTEMPT, YEARLY


@pytest.fixture
def requests_made(monkeypatch):
    counted: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        counted[f"{self.meta.service_model.service_name}.{operation}"] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counted


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
    assert report.dispatched == 10 and len(target.requests) == 10
    # the tick, for 10 due jobs: per shard one due query, one backlog count and one lost-run sweep query
    # (index keys only); one conditional put and one conditional update per run; one batched send; one write
    # of engine bookkeeping
    assert tick == {
        "dynamodb.Query": 4 * 3,
        "dynamodb.PutItem": 10 + 1,
        "dynamodb.UpdateItem": 10,
        "sqs.SendMessageBatch": 1,
    }
    # the invoker, per run: read the job, pending->running, running->final, two events; per batch one stats
    # counter write (one application, one hour, one status); plus (test harness, as Lambda's event source
    # does) one receive and one batched delete for the ten
    assert run == {
        "dynamodb.GetItem": 10,
        "dynamodb.UpdateItem": 10 * 2 + 1,
        "events.PutEvents": 10 * 2,
        "sqs.ReceiveMessage": 2,
        "sqs.DeleteMessageBatch": 1,
    }


def test_execution_events_carry_the_masked_execution(api, engine, target, monkeypatch):
    published = []
    monkeypatch.setattr("chalicelib.events.publish", lambda kind, detail: published.append((kind, detail)))
    app_id = api.make_app()["id"]
    auth = {"authMethod": "bearer", "token": "tok-9"}
    config = {"endpoint": target.base, "path": "/status/500", "auth": auth}
    job = api.make_job(app_id, pattern=YEARLY, taskConfig=config, retryPolicy=ONE_ATTEMPT)
    engine.make_due(job["id"])
    engine.run_due()
    runs = [(kind, detail) for kind, detail in published if kind.startswith("scheduler.job.execution.")]
    assert [kind for kind, _ in runs] == ["scheduler.job.execution.started", "scheduler.job.execution.failed"]
    final = runs[1][1]["execution"]
    assert final["status"] == "failed" and final["error"]["code"] == "HTTP_500"
    assert final["jobSnapshot"]["taskConfig"]["auth"]["token"] == "********" and "tok-9" not in str(published)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("failed", ["failed"]), ("none", []), ("started,succeeded", ["started"]), ("", ["started", "failed"])],
)
def test_execution_events_setting_chooses_which_run_events_are_published(
    api, engine, target, monkeypatch, settings_env, setting, expected
):
    settings_env.setenv("EXECUTION_EVENTS", setting)
    published = []
    monkeypatch.setattr("chalicelib.events.publish", lambda kind, detail: published.append(kind))
    app_id = api.make_app()["id"]
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/status/500"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    engine.make_due(job["id"])
    engine.run_due()
    assert [kind.rsplit(".", 1)[1] for kind in published if ".execution." in kind] == expected
    assert "scheduler.job.created" in published  # job events are not affected by the setting


def test_an_unknown_execution_event_kind_is_refused_at_start(settings_env):
    settings_env.setenv("EXECUTION_EVENTS", "started,finished")
    with pytest.raises(ValueError, match="finished"):
        get_settings()


def test_write_units_per_scheduled_run(api, engine, target, monkeypatch):
    """Write units are what a run costs on DynamoDB: each table and index write, counted from the item images
    (bench/meter.py). Pinned so an added index or a grown item shows up here, not on the bill."""
    app_id = api.make_app()["id"]
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/ok"},
                         retryPolicy=ONE_ATTEMPT) for i in range(10)]  # fmt: skip
    for job in jobs:
        engine.make_due(job["id"], in_ms=300)
    meter = Meter()
    monkeypatch.setattr(
        botocore.client.BaseClient, "_make_api_call", meter.wrap(botocore.client.BaseClient._make_api_call)
    )
    engine.tick()
    tick = dict(meter.units)
    meter.units.clear()
    engine.deliver(engine.receive())
    run = dict(meter.units)
    settings = get_settings()
    writes = lambda units, table: units.get(f"WRU:{table}", 0)  # noqa: E731
    # per run, the tick: the execution claim (item, by-application and in-flight index entries) and the job's
    # advance (item, and its due-index entry moving: a delete and a put); plus the tick record, once
    assert writes(tick, settings.executions_table) == 10 * 3
    assert writes(tick, settings.jobs_table) == 10 * 3
    assert writes(tick, settings.keys_table) == 1
    # per run, the invoker: pending->running, running->final (which also leaves the in-flight index); one
    # stats counter write for the batch
    assert writes(run, settings.executions_table) == 10 * 3
    assert writes(run, settings.keys_table) == 1
