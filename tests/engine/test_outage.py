"""After an outage the engine never bursts: a run that reaches the invoker more than the misfire grace after its
slot follows the job's misfirePolicy (skip: no run; fire_once: only the latest missed slot runs)."""

from __future__ import annotations

import pytest

from chalicelib.clock import now_ms
from chalicelib.engine.tick import MISFIRE_GRACE_MS
from chalicelib.settings import get_settings
from chalicelib.store import executions as execution_store
from chalicelib.store.models import JobModel
from tests.conftest import ONE_ATTEMPT

EVERY_5_SECONDS = "*/5 * * * * *"
OUTAGE_MS = 200_000


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def queued_during_an_outage(api, engine, target, app_id, policy: str) -> tuple[int, int]:
    """A per-5-second job whose slots were dispatched 200 s ago (all of them already visible in the queue) while
    the invoker side was down; returns (job id, the moment the invoker comes back)."""
    job = api.make_job(app_id, pattern=EVERY_5_SECONDS, misfirePolicy=policy, retryPolicy=ONE_ATTEMPT, enabled=False,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip
    back = now_ms()
    gone = back - OUTAGE_MS
    JobModel(job["id"]).update(actions=[JobModel.enabled.set(True), JobModel.nextRunAt.set(gone - gone % 5000),
                                        JobModel.dueShard.set(job["id"] % get_settings().due_shards)])  # fmt: skip
    report = engine.tick(gone)  # the tick of 200 s ago: 90 s of slots, every delay already over
    assert report.dispatched >= 17
    return job["id"], back


@pytest.mark.parametrize("policy", ["skip", "fire_once"])
def test_slots_that_waited_out_an_outage_in_the_queue_do_not_burst(api, engine, target, app_id, policy):
    job_id, back = queued_during_an_outage(api, engine, target, app_id, policy)
    assert engine.deliver(engine.receive()) == []
    late = [e for e in engine.executions(job_id) if int(e.slot) < back - MISFIRE_GRACE_MS]
    assert len(late) >= 17 and target.requests == []  # every one of them is older than the grace: none ran
    assert {e.status for e in late} == {execution_store.FAILED}
    assert {e.error["code"] for e in late} == {"MISFIRE_SKIPPED"}
    counts = api.get("/_/scheduler/stats").json["executions"]["last24h"]
    assert counts["skipped"] >= 17 and counts["succeeded"] == 0


@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("fire_once", 1)])
def test_after_the_outage_the_next_tick_runs_the_latest_missed_slot_once_or_not_at_all(
    api, engine, target, app_id, policy, runs
):
    job_id, _back = queued_during_an_outage(api, engine, target, app_id, policy)
    engine.deliver(engine.receive())
    at = now_ms()
    engine.tick(at)  # the engine is back: its cursor is ~110 s behind
    engine.deliver(engine.receive())
    missed = [e for e in engine.executions(job_id) if int(e.slot) <= at]  # later slots run on time, as usual
    ran = [e for e in missed if e.status == execution_store.SUCCEEDED]
    assert len(ran) == runs, [(e.slot, e.status) for e in missed]


def test_a_slot_late_by_less_than_the_grace_still_runs(api, engine, target, app_id):
    job = api.make_job(app_id, pattern=EVERY_5_SECONDS, misfirePolicy="skip", retryPolicy=ONE_ATTEMPT, enabled=False,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip
    now = now_ms()
    slot = now - 20_000 - now % 5000
    JobModel(job["id"]).update(actions=[JobModel.enabled.set(True), JobModel.nextRunAt.set(slot),
                                        JobModel.dueShard.set(job["id"] % get_settings().due_shards)])  # fmt: skip
    engine.tick(slot - 1)  # dispatched long ago, delivered 20 s late: a slow queue, not an outage
    engine.deliver(engine.receive())
    assert execution_store.get(job["id"], slot).status == execution_store.SUCCEEDED
