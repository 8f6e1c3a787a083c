"""Lost-run recovery: a lost message is re-dispatched once, then failed LOST; a dead invoker's run fails LOST."""

from __future__ import annotations

from chalicelib.clock import now_ms
from chalicelib.store import executions as execution_store
from chalicelib.store.models import ExecutionModel
from tests.conftest import ONE_ATTEMPT, YEARLY


def job_for(api, target, timeout=5000):
    app_id = api.make_app()["id"]
    config = {"endpoint": target.base, "timeout": timeout}
    return api.make_job(app_id, pattern=YEARLY, taskConfig=config, retryPolicy=ONE_ATTEMPT)


def test_a_lost_message_is_dispatched_again_once_and_the_run_completes(api, engine, target):
    job = job_for(api, target)
    slot = now_ms() - 300_000  # claimed five minutes ago; its message never came
    execution_store.create_pending(job["id"], job["application"]["id"], slot, "schedule", slot)
    report = engine.tick()
    assert report.redispatched == 1 and report.lost == 0
    assert engine.tick().redispatched == 0  # once only
    engine.deliver(engine.receive())
    assert execution_store.get(job["id"], slot).status == "succeeded" and len(target.requests) == 1


def test_still_pending_after_the_re_dispatch_it_fails_lost(api, engine, target):
    job = job_for(api, target)
    slot = now_ms() - 900_000
    execution_store.create_pending(job["id"], job["application"]["id"], slot, "schedule", slot)
    ExecutionModel(job["id"], slot).update(actions=[ExecutionModel.sweptAt.set(now_ms() - 300_000)])
    report = engine.tick()
    execution = execution_store.get(job["id"], slot)
    assert report.lost == 1 and execution.status == "failed" and execution.error["code"] == "LOST"
    assert engine.receive() == [] and target.requests == []


def test_a_run_whose_invoker_died_fails_lost_and_a_late_finish_is_refused(api, engine, target):
    job = job_for(api, target, timeout=5000)
    slot = now_ms() - 600_000
    execution_store.create_pending(job["id"], job["application"]["id"], slot, "schedule", slot)
    running = execution_store.start(job["id"], slot, slot + 10)  # started ten minutes ago, never finished
    assert engine.tick().lost == 1
    assert execution_store.get(job["id"], slot).error["code"] == "LOST"
    assert not execution_store.finish(running, "succeeded", now_ms(), {"result": {"status": 200}})
    assert execution_store.get(job["id"], slot).status == "failed"


def test_runs_in_time_or_waiting_for_a_retry_are_left_alone(api, engine, target):
    job = job_for(api, target, timeout=600_000)
    app_id = job["application"]["id"]
    recent = now_ms() - 30_000
    execution_store.create_pending(job["id"], app_id, recent, "schedule", recent)
    waiting = now_ms() - 400_000
    created = execution_store.create_pending(job["id"], app_id, waiting, "schedule", waiting)
    created.update(actions=[ExecutionModel.dueAt.set(now_ms() + 60_000)])  # a retry backs off for a minute more
    long_running = now_ms() - 300_000
    execution_store.create_pending(job["id"], app_id, long_running, "schedule", long_running)
    execution_store.start(job["id"], long_running, now_ms() - 240_000)  # within its 10-minute timeout
    report = engine.tick()
    assert report.redispatched == 0 and report.lost == 0
    assert {e.status for e in engine.executions(job["id"])} == {"pending", "running"}


def test_a_lost_run_ends_like_any_failed_run_an_event_and_a_count_in_stats(api, engine, target, bus_queue):
    job = job_for(api, target, timeout=5000)
    slot = now_ms() - 600_000
    execution_store.create_pending(job["id"], job["application"]["id"], slot, "schedule", slot)
    execution_store.start(job["id"], slot, slot + 10)
    before = api.get("/_/scheduler/stats").json["executions"]["last24h"]["failed"]
    assert engine.tick().lost == 1
    failed = [event for event in bus_queue() if event["detail-type"] == "scheduler.job.execution.failed"]
    assert [event["detail"]["execution"]["error"]["code"] for event in failed] == ["LOST"]
    assert (
        failed[0]["detail"]["execution"]["status"] == "failed"
        and failed[0]["detail"]["execution"]["jobId"] == job["id"]
    )
    assert api.get("/_/scheduler/stats").json["executions"]["last24h"]["failed"] == before + 1
