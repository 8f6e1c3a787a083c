"""Backfill: one run per past slot of the schedule in [from, to), paced, each (job, slot) still run once, with the
slot's own dates in its parameters. Through the API, the engine's steps and the invoker, with a real local target."""

from __future__ import annotations

import time
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.queue import BackfillMessage, RunMessage
from tests.conftest import ONE_ATTEMPT

JOBS = "/_/scheduler/jobs"
MARCH = {"from": "2026-03-03T00:00:00Z", "to": "2026-03-06T00:00:00Z"}  # three 06:00 slots


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def daily(api, app_id, target, **fields):
    task = {"endpoint": target.base, "path": "/sync?day=${T:YYYY-MM-DD}&yesterday=${T-1:YYYY-MM-DD}"}
    return api.make_job(app_id, pattern="0 6 * * *", retryPolicy=ONE_ATTEMPT, taskConfig=task, **fields)


def drain(engine, seconds=8):
    """Deliver what the queue hands out (steps and runs) until it has been quiet for two seconds."""
    deadline, quiet = time.monotonic() + seconds, 0
    while time.monotonic() < deadline and quiet < 2:
        records = engine.receive(wait=1)
        quiet = 0 if records else quiet + 1
        engine.deliver(records)


def test_a_backfill_runs_each_past_slot_once_with_that_slot_s_dates(api, engine, target, app_id):
    job = daily(api, app_id, target, enabled=False)  # disabled jobs may be backfilled
    answer = api.post(f"{JOBS}/{job['id']}/backfill", MARCH)
    assert answer.status == 202, answer.json
    backfill = answer.json
    assert answer.headers["location"].endswith(f"/_/scheduler/backfills/{backfill['id']}")
    assert {k: backfill[k] for k in ("total", "queued", "skipped", "status", "perMinute", "maxRuns")} == {
        "total": 3, "queued": 3, "skipped": 0, "status": "running", "perMinute": 60, "maxRuns": 100}  # fmt: skip
    drain(engine)
    days = sorted((parse_qs(urlsplit(r["path"]).query)["day"][0], parse_qs(urlsplit(r["path"]).query)["yesterday"][0])
                  for r in target.requests)  # fmt: skip
    assert days == [("2026-03-03", "2026-03-02"), ("2026-03-04", "2026-03-03"), ("2026-03-05", "2026-03-04")]
    done = api.get(f"/_/scheduler/backfills/{backfill['id']}").json
    assert {k: done[k] for k in ("status", "queued", "running", "succeeded", "failed", "skipped")} == {
        "status": "done", "queued": 0, "running": 0, "succeeded": 3, "failed": 0, "skipped": 0}  # fmt: skip
    runs = api.get(f"{JOBS}/{job['id']}/executions").json
    assert sorted(run["scheduledFor"] for run in runs) == [f"2026-03-0{d}T06:00:00.000Z" for d in (3, 4, 5)]
    assert {run["trigger"] for run in runs} == {"backfill"}

    again = api.post(f"{JOBS}/{job['id']}/backfill", MARCH).json  # exactly once per (job, slot)
    assert again["id"] != backfill["id"] and again["skipped"] == 3 and again["total"] == 3
    drain(engine, seconds=4)
    assert len(target.requests) == 3
    assert api.get(f"/_/scheduler/backfills/{again['id']}").json["status"] == "done"


def test_runs_are_paced_at_per_minute_and_the_rest_waits_for_the_next_step(api, engine, target, app_id):
    job = api.make_job(app_id, pattern="0 * * * *", retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/ok"})  # fmt: skip
    hours = {"from": "2026-03-03T00:00:00Z", "to": "2026-03-03T05:00:00Z", "perMinute": 2}
    backfill = api.post(f"{JOBS}/{job['id']}/backfill", hours).json
    assert backfill["total"] == 5
    engine.deliver(engine.receive(wait=2))  # the first step
    queued = engine.queued()
    runs = sorted((max(visible, m.dispatched_at or 0), m.slot) for m, visible in queued if isinstance(m, RunMessage))
    steps = [visible for m, visible in queued if isinstance(m, BackfillMessage)]
    assert len(runs) == 2 and 29_000 <= runs[1][0] - runs[0][0] <= 31_000  # two a minute: 30 s apart
    assert len(steps) == 1 and 59_000 <= steps[0] - runs[0][0] <= 61_000  # the next share a minute later
    progress = api.get(f"/_/scheduler/backfills/{backfill['id']}").json
    assert progress["queued"] == 5 and progress["status"] == "running"


def test_cancel_ends_what_has_not_started(api, engine, target, app_id):
    from chalicelib.engine.tick import handle

    job = daily(api, app_id, target)
    backfill = api.post(f"{JOBS}/{job['id']}/backfill", {**MARCH, "perMinute": 1}).json
    engine.deliver([r for r in engine.receive(wait=2) if "backfill" in r["body"]])  # one run sent, the rest later
    cancelled = api.delete(f"/_/scheduler/backfills/{backfill['id']}")
    assert cancelled.status == 200, cancelled.json
    assert {k: cancelled.json[k] for k in ("status", "cancelled", "queued", "succeeded")} == {
        "status": "cancelled", "cancelled": 3, "queued": 0, "succeeded": 0}  # fmt: skip
    drain(engine, seconds=4)  # the run already sent meets its record ended: it does not run
    assert handle(BackfillMessage(backfill["id"])) == 0  # the next step finds it cancelled
    assert target.requests == []
    assert api.delete(f"/_/scheduler/backfills/{backfill['id']}").json["status"] == "cancelled"  # idempotent


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2026-03-03T00:00:00Z", "to": "2999-01-01T00:00:00Z"}, "to"),
        ({"from": "2026-03-06T00:00:00Z", "to": "2026-03-03T00:00:00Z"}, "to"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "maxRuns": 100}, "maxRuns"),
        ({**MARCH, "maxRuns": 1001}, "maxRuns"),
        ({**MARCH, "perMinute": 0}, "perMinute"),
        ({**MARCH, "perMinute": 601}, "perMinute"),
        ({"from": "2026-03-03T07:00:00Z", "to": "2026-03-03T08:00:00Z"}, "from"),
        ({"to": "2026-03-03T00:00:00Z"}, "from"),
        ({**MARCH, "from": 1772496000}, "from"),
    ],
)
def test_a_bad_backfill_is_a_400_naming_the_field(api, target, app_id, body, field):
    job = daily(api, app_id, target)
    answer = api.post(f"{JOBS}/{job['id']}/backfill", body)
    assert answer.status == 400 and field in answer.error_fields(), answer.json


def test_a_one_off_job_has_nothing_to_backfill_and_other_tenants_see_nothing(api, outsider, target, app_id):
    once = api.post("/_/scheduler/jobs/schedule", {"applicationId": app_id, "name": "once",
                                                   "runAt": "2999-01-01T00:00:00Z",
                                                   "taskConfig": {"endpoint": target.base}}).json  # fmt: skip
    assert api.post(f"{JOBS}/{once['id']}/backfill", MARCH).error_fields() == ["from"]
    job = daily(api, app_id, target)
    assert outsider.post(f"{JOBS}/{job['id']}/backfill", MARCH).status == 404
    backfill = api.post(f"{JOBS}/{job['id']}/backfill", MARCH).json
    assert outsider.get(f"/_/scheduler/backfills/{backfill['id']}").status == 404
    assert outsider.delete(f"/_/scheduler/backfills/{backfill['id']}").status == 404
    assert api.get(f"/_/scheduler/backfills/{backfill['id']}").json["jobId"] == job["id"]


def test_backfill_runs_of_a_forbid_job_never_overlap(api, engine, target, app_id):
    job = api.make_job(app_id, pattern="0 6 * * *", retryPolicy=ONE_ATTEMPT, concurrencyPolicy="forbid",
                       taskConfig={"endpoint": target.base, "path": "/slow/1500"})  # fmt: skip
    api.post(f"{JOBS}/{job['id']}/backfill", {**MARCH, "perMinute": 600})  # all three sent at once
    engine.deliver(engine.receive(wait=2))
    deadline = time.monotonic() + 20
    while len([r for r in api.get(f"{JOBS}/{job['id']}/executions").json if r["status"] == "succeeded"]) < 3:
        assert time.monotonic() < deadline, "the backfill runs did not all finish"
        engine.deliver(engine.receive(wait=1))
    runs = api.get(f"{JOBS}/{job['id']}/executions").json
    spans = sorted((run["startedAt"], run["finishedAt"]) for run in runs)
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(spans))
