"""Trigger, history, execution lookup, recent runs and stats."""

from __future__ import annotations

import time

import pytest

from chalicelib.local.moto_sqs import COUNT_TTL_SECONDS
from chalicelib.store.models import ExecutionModel
from tests.conftest import ONE_ATTEMPT, YEARLY

JOBS = "/_/scheduler/jobs"
EXECUTIONS = "/_/scheduler/executions"


@pytest.fixture
def job(api, target):
    app_id = api.make_app()["id"]
    return api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/echo"},
                        retryPolicy=ONE_ATTEMPT)  # fmt: skip


def test_trigger_answers_202_and_the_run_completes_within_seconds(api, engine, target, job):
    started = time.monotonic()
    answer = api.post(f"{JOBS}/{job['id']}/trigger")
    assert answer.status == 202
    execution = answer.json
    assert execution["status"] == "pending" and execution["trigger"] == "manual" and execution["createdBy"] == "admin"
    assert answer.headers["location"].endswith(f"{EXECUTIONS}/{execution['id']}")
    engine.deliver(engine.receive())
    done = api.get(f"{EXECUTIONS}/{execution['id']}").json
    assert done["status"] == "succeeded" and time.monotonic() - started < 5
    assert len(target.requests) == 1


def test_trigger_runs_a_disabled_job(api, engine, target, job):
    api.post(f"{JOBS}/{job['id']}/disable")
    execution = api.post(f"{JOBS}/{job['id']}/trigger").json
    engine.deliver(engine.receive())
    assert api.get(f"{EXECUTIONS}/{execution['id']}").json["status"] == "succeeded"


def test_trigger_honours_idempotency_key(api, engine, target, job):
    first = api.post(f"{JOBS}/{job['id']}/trigger", headers={"Idempotency-Key": "run-1"})
    again = api.post(f"{JOBS}/{job['id']}/trigger", headers={"Idempotency-Key": "run-1"})
    assert first.status == again.status == 202 and first.json["id"] == again.json["id"]
    assert len(engine.receive()) == 1


def test_trigger_by_a_member_is_recorded_with_their_user(member, engine, target, job):
    assert member.post(f"{JOBS}/{job['id']}/trigger").json["createdBy"] == "mia"


def test_history_is_newest_first_with_filters_and_pages(api, engine, target, job):
    ids = []
    for index in range(5):
        if index == 2:
            api.put(f"{JOBS}/{job['id']}", {"taskConfig": {"path": "/status/500"}})
        if index == 3:
            api.put(f"{JOBS}/{job['id']}", {"taskConfig": {"path": "/echo"}})
        ids.append(api.post(f"{JOBS}/{job['id']}/trigger").json["id"])
        engine.deliver(engine.receive())
        time.sleep(0.005)
    history = api.get(f"{JOBS}/{job['id']}/executions").json
    assert [e["id"] for e in history] == list(reversed(ids))
    failed = api.get(f"{JOBS}/{job['id']}/executions?status=failed").json
    assert [e["id"] for e in failed] == [ids[2]]
    page = api.get(f"{JOBS}/{job['id']}/executions?limit=2")
    assert [e["id"] for e in page.json] == [ids[4], ids[3]]
    rest = api.get(f"{JOBS}/{job['id']}/executions?limit=10&cursor={page.headers['x-next-cursor']}").json
    assert [e["id"] for e in rest] == [ids[2], ids[1], ids[0]]
    since, until = history[1]["scheduledFor"], history[3]["scheduledFor"]
    window = api.get(f"{JOBS}/{job['id']}/executions?from={until}&to={since}").json
    assert [e["id"] for e in window] == [ids[3], ids[2], ids[1]]
    assert [e["id"] for e in api.get(f"{JOBS}/{job['id']}/executions?from={since}").json] == [ids[4], ids[3]]


def test_recent_executions_span_the_callers_applications_only(api, member, outsider, engine, target, job):
    other_app = api.make_app("other", "Other")["id"]
    other_job = api.make_job(other_app, name="theirs", pattern=YEARLY, taskConfig={"endpoint": target.base})
    mine = api.post(f"{JOBS}/{job['id']}/trigger").json["id"]
    theirs = api.post(f"{JOBS}/{other_job['id']}/trigger").json["id"]
    engine.deliver(engine.receive())
    assert [e["id"] for e in api.get(EXECUTIONS).json] == [theirs, mine]
    assert [e["id"] for e in member.get(EXECUTIONS).json] == [mine]
    assert [e["id"] for e in outsider.get(EXECUTIONS).json] == [theirs]
    assert member.get(f"{EXECUTIONS}/{theirs}").status == 404
    assert member.get(f"{JOBS}/{other_job['id']}/executions").status == 404
    assert [e["id"] for e in api.get(f"{EXECUTIONS}?applicationId={other_app}").json] == [theirs]
    assert [e["id"] for e in api.get(f"{EXECUTIONS}?jobId={job['id']}").json] == [mine]
    assert api.get(f"{EXECUTIONS}?status=failed").json == []
    assert member.get(f"{EXECUTIONS}?applicationId={other_app}").status == 404


def test_stats_report_jobs_runs_and_engine(api, engine, target, job):
    api.post(f"{JOBS}/{job['id']}/trigger")
    engine.make_due(job["id"])
    engine.tick()
    engine.deliver(engine.receive())
    api.put(f"{JOBS}/{job['id']}", {"taskConfig": {"path": "/status/502"}})
    api.post(f"{JOBS}/{job['id']}/trigger")
    engine.deliver(engine.receive())
    time.sleep(COUNT_TTL_SECONDS)  # the queue's sizes are approximate and lag, as SQS's do: a second here
    stats = api.get("/_/scheduler/stats").json
    assert stats["jobs"] == {"total": 1, "enabled": 1}
    assert stats["executions"] == {"last24h": {"succeeded": 2, "failed": 1, "skipped": 0}}
    assert stats["engine"]["lastTickDispatched"] == 1 and stats["engine"]["lastTickAt"].endswith("Z")
    assert stats["engine"]["fireLagMs"]["samples"] == 1 and stats["engine"]["fireLagMs"]["p99"] < 1000  # scheduled
    assert stats["engine"]["queue"] == {"ready": 0, "delayed": 0, "inFlight": 0}
    assert "backlog" not in stats["engine"]


def test_job_counts_follow_creates_disables_and_deletes(api, target, job):
    """Job counts come from counters kept in the job transactions, not from reading the jobs."""
    app_id = job["application"]["id"]
    other = api.make_job(app_id, name="other", pattern=YEARLY, taskConfig={"endpoint": target.base})
    paused = api.make_job(app_id, name="paused", pattern=YEARLY, taskConfig={"endpoint": target.base}, enabled=False)
    counts = lambda: api.get("/_/scheduler/stats").json["jobs"]  # noqa: E731
    assert counts() == {"total": 3, "enabled": 2}
    api.post(f"{JOBS}/{other['id']}/disable")
    api.post(f"{JOBS}/{other['id']}/disable")  # no change, no count
    assert counts() == {"total": 3, "enabled": 1}
    api.put(f"{JOBS}/{paused['id']}", {"enabled": True, "description": "on again"})
    assert counts() == {"total": 3, "enabled": 2}
    assert api.delete(f"{JOBS}/{paused['id']}").status == 204
    assert api.delete(f"{JOBS}/{other['id']}").status == 204
    assert counts() == {"total": 1, "enabled": 1}


def test_stats_are_scoped_to_the_callers_applications(api, outsider, engine, target, job):
    api.post(f"{JOBS}/{job['id']}/trigger")
    engine.deliver(engine.receive())
    stats = outsider.get("/_/scheduler/stats").json
    assert stats["jobs"] == {"total": 0, "enabled": 0}
    assert stats["executions"] == {"last24h": {"succeeded": 0, "failed": 0, "skipped": 0}}
    assert stats["engine"]["queue"] is None and stats["engine"]["lastTickAt"] is None  # the engine is admins' only


def test_recent_executions_of_one_job_page_by_cursor(api, engine, target, job):
    ids = []
    for _ in range(5):
        ids.append(api.post(f"{JOBS}/{job['id']}/trigger").json["id"])
        time.sleep(0.003)
    assert [e["id"] for e in api.pages(f"{EXECUTIONS}?jobId={job['id']}&limit=2")] == list(reversed(ids))


def test_a_sharded_application_index_lists_and_finds_every_run(api, engine, target, settings_env):
    """APP_INDEX_SHARDS spreads one application's runs over several index keys (a busy application is not
    held to one partition's write rate); lists stay newest first and every id is still found."""
    settings_env.setenv("APP_INDEX_SHARDS", "4")
    app_id = api.make_app()["id"]
    job = api.make_job(app_id, taskConfig={"endpoint": target.base, "path": "/ok"})
    ids = [api.post(f"/_/scheduler/jobs/{job['id']}/trigger").json["id"] for _ in range(9)]
    shards = {int(item.appShard) for item in ExecutionModel.query(job["id"])}
    assert len(shards) > 1 and all(shard // 1000 == app_id for shard in shards)
    listed = [run["id"] for run in api.pages("/_/scheduler/executions?limit=4")]
    assert listed == sorted(ids, reverse=True)
    for execution_id in ids:
        assert api.get(f"/_/scheduler/executions/{execution_id}").json["id"] == execution_id
