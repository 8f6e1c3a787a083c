"""After an outage the engine never bursts: a run that reaches the invoker more than the misfire grace after its
slot follows the job's misfirePolicy (skip: no run; fire_once: only the latest missed slot runs). A slot that does
not run leaves no record: it is only counted as skipped."""

from __future__ import annotations

import pytest

from chalicelib.clock import now_ms
from chalicelib.cron import MISFIRE_GRACE_MS
from chalicelib.settings import get_settings
from chalicelib.store import executions as execution_store
from chalicelib.store.models import JobModel
from tests.conftest import ONE_ATTEMPT, store_spec

EVERY_5_SECONDS = "*/5 * * * * *"
OUTAGE_MS = 200_000


@pytest.fixture
def app_id(api, settings_env):
    settings_env.setenv("DISPATCH_WINDOW_SECONDS", "90")  # the shortest window: 18 slots of a per-5-second job
    return api.make_app()["id"]


def enable_at(job_id: int, cursor: int) -> None:
    """Enable a job created disabled (so nothing was dispatched at its creation) with its cursor at `cursor`."""
    store_spec(job_id, enabled=True)
    JobModel(job_id).update(actions=[JobModel.enabled.set(True), JobModel.nextRunAt.set(cursor),
                                     JobModel.dueShard.set(job_id % get_settings().due_shards)])  # fmt: skip


def queued_during_an_outage(api, engine, target, app_id, policy: str) -> tuple[int, int, int]:
    """A per-5-second job whose slots were dispatched 200 s ago (all of them already visible in the queue) while
    the invoker side was down; returns (job id, the moment the invoker comes back, slots dispatched)."""
    job = api.make_job(app_id, pattern=EVERY_5_SECONDS, misfirePolicy=policy, retryPolicy=ONE_ATTEMPT, enabled=False,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip
    back = now_ms()
    gone = back - OUTAGE_MS
    enable_at(job["id"], gone - gone % 5000)
    report = engine.tick(gone)  # the tick of 200 s ago: 90 s of slots, every delay already over
    assert report.dispatched >= 17 and report.advanced == 1
    return job["id"], back, report.dispatched


@pytest.mark.parametrize("policy", ["skip", "fire_once"])
def test_slots_that_waited_out_an_outage_in_the_queue_do_not_burst(api, engine, target, app_id, bus_queue, policy):
    job_id, _back, dispatched = queued_during_an_outage(api, engine, target, app_id, policy)
    records = engine.receive()
    assert len(records) == dispatched
    assert engine.deliver(records) == []  # every one is done with
    assert target.requests == [] and engine.executions(job_id) == []  # older than the grace: none ran, none written
    assert not [event for event in bus_queue() if ".execution." in event["detail-type"]]  # and no run event
    counts = api.get("/_/scheduler/stats").json["executions"]["last24h"]
    assert counts == {"succeeded": 0, "failed": 0, "skipped": dispatched}
    assert engine.receive() == []


@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("fire_once", 1)])
def test_after_the_outage_the_next_tick_runs_the_latest_missed_slot_once_or_not_at_all(
    api, engine, target, app_id, policy, runs
):
    job_id, _back, _ = queued_during_an_outage(api, engine, target, app_id, policy)
    engine.deliver(engine.receive())
    at = now_ms()
    engine.tick(at)  # the engine is back: its cursor is ~110 s behind
    engine.deliver(engine.receive())
    missed = [e for e in engine.executions(job_id) if e.slot <= at]  # later slots run on time, as usual
    assert [e.status for e in missed] == [execution_store.SUCCEEDED] * runs, [(e.slot, e.status) for e in missed]
    if runs:
        assert at - MISFIRE_GRACE_MS < missed[0].slot <= at and missed[0].missed_slots >= 20  # ~110 s of 5 s slots


def test_a_slot_late_by_less_than_the_grace_still_runs(api, engine, target, app_id):
    job = api.make_job(app_id, pattern=EVERY_5_SECONDS, misfirePolicy="skip", retryPolicy=ONE_ATTEMPT, enabled=False,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip
    now = now_ms()
    slot = now - 20_000 - now % 5000
    enable_at(job["id"], slot)
    engine.tick(slot - 1)  # dispatched long ago, delivered 20 s late: a slow queue, not an outage
    engine.deliver(engine.receive())
    execution = execution_store.get(job["id"], slot)
    assert execution.status == execution_store.SUCCEEDED and execution.lag_ms >= 20_000
