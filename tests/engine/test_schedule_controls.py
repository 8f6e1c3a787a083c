"""Scheduling controls: a job's active window (startAt, endAt), jitter, and pausing until a time. Through the API
and the engine with a real local target; the slots are the engine's, read from the queue it fills."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise

import pytest

from chalicelib.clock import iso, now_ms
from chalicelib.cron import jitter_ms
from chalicelib.queue import ResumeMessage, RunMessage
from tests.conftest import ONE_ATTEMPT, YEARLY

JOBS = "/_/scheduler/jobs"
EVERY_SECOND = "* * * * * *"


def at(ms: int) -> str:
    return iso(ms) or ""


def job_body(app_id, target, name="controlled", **fields):
    return {"applicationId": app_id, "name": name, "pattern": YEARLY, "retryPolicy": ONE_ATTEMPT,
            "taskConfig": {"endpoint": target.base, "path": "/ok"}, **fields}  # fmt: skip


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def deliver_until_resumed(engine, seconds=6):
    """Deliver what the queue hands out until the resume message has been handled."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        records = engine.receive(wait=1)
        engine.deliver(records)
        if any('"kind": "resume"' in record["body"] for record in records):
            return
    raise AssertionError(f"no resume message within {seconds} s")


def runs_queued(engine, job_id):
    return sorted((m for m, _ in engine.queued() if isinstance(m, RunMessage) and m.job_id == job_id),
                  key=lambda m: m.slot)  # fmt: skip


# --- startAt / endAt -----------------------------------------------------------------------------------------------


def test_no_slot_before_start_at_and_the_next_runs_honour_it(api, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern="0 * * * *", startAt="2031-03-01T12:30:00Z")).json
    assert job["startAt"] == "2031-03-01T12:30:00.000Z" and job["status"] == "scheduled"
    assert job["nextRunAt"] == "2031-03-01T13:00:00.000Z"
    detail = api.get(f"{JOBS}/{job['id']}").json
    assert [run["at"] for run in detail["upcoming"]][:2] == ["2031-03-01T13:00:00.000Z", "2031-03-01T14:00:00.000Z"]


def test_the_engine_sends_no_slot_at_or_after_end_at_and_the_job_then_shows_completed(api, engine, target, app_id):
    end = (now_ms() // 1000 + 4) * 1000
    job = api.post(JOBS, job_body(app_id, target, pattern=EVERY_SECOND, endAt=at(end))).json
    engine.tick()
    slots = [m.slot for m in runs_queued(engine, job["id"])]
    assert slots and max(slots) < end and all(b - a == 1000 for a, b in pairwise(slots))
    time.sleep(max(0, end - now_ms()) / 1000 + 0.2)
    after = api.get(f"{JOBS}/{job['id']}").json
    assert after["status"] == "completed" and after["nextRunAt"] is None and after["upcoming"] == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"startAt": "2031-01-02T00:00:00Z", "endAt": "2031-01-01T00:00:00Z"}, "endAt"),
        ({"startAt": "2031-01-01T00:00:00Z", "endAt": "2031-01-01T00:00:00Z"}, "endAt"),
        ({"pattern": None, "runAt": "2031-01-01T00:00:00Z", "endAt": "2032-01-01T00:00:00Z"}, "endAt"),
        ({"startAt": 1924992000}, "startAt"),
        ({"jitterSeconds": 3601}, "jitterSeconds"),
        ({"pattern": "*/10 * * * * *", "jitterSeconds": 10}, "jitterSeconds"),
        ({"pattern": "0 9 * * 1-5", "jitterSeconds": 86_400}, "jitterSeconds"),
    ],
)
def test_a_bad_window_or_jitter_is_a_400_naming_it(api, target, app_id, fields, field):
    body = {key: value for key, value in job_body(app_id, target, **fields).items() if value is not None}
    answer = api.post(JOBS, body)
    assert answer.status == 400 and field in answer.error_fields(), answer.json


def test_an_update_moves_the_window_and_the_cursor_with_it(api, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern="0 0 * * *")).json
    moved = api.put(f"{JOBS}/{job['id']}", {"startAt": "2040-06-01T00:00:00Z", "endAt": "2040-06-03T00:00:00Z"}).json
    assert moved["nextRunAt"] == "2040-06-01T00:00:00.000Z"
    assert [run["at"] for run in api.get(f"{JOBS}/{job['id']}").json["upcoming"]] == [
        "2040-06-01T00:00:00.000Z", "2040-06-02T00:00:00.000Z"]  # fmt: skip
    opened = api.put(f"{JOBS}/{job['id']}", {"startAt": None, "endAt": None}).json
    assert "startAt" not in opened and "endAt" not in opened and opened["nextRunAt"] < "2040"


def test_the_cron_preview_honours_the_window(api):
    window = {"startAt": "2040-06-01T00:00:00Z", "endAt": "2040-06-03T00:00:00Z"}
    answer = api.post("/_/scheduler/cron/preview", {"pattern": "0 0 * * *", "count": 5, **window})
    assert answer.status == 200 and answer.json["next"] == ["2040-06-01T00:00:00+00:00", "2040-06-02T00:00:00+00:00"]
    backwards = api.post("/_/scheduler/cron/preview", {"pattern": "0 0 * * *", "startAt": "2040-06-03T00:00:00Z",
                                                        "endAt": "2040-06-01T00:00:00Z"})  # fmt: skip
    assert backwards.status == 400 and backwards.error_fields() == ["endAt"]


# --- jitter -------------------------------------------------------------------------------------------------------


def test_jittered_slots_start_at_a_deterministic_offset_below_the_jitter(api, engine, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern="*/20 * * * * *", jitterSeconds=15)).json
    assert job["jitterSeconds"] == 15
    engine.tick()
    first = runs_queued(engine, job["id"])
    assert len(first) >= 40  # a 15-minute window of slots every 20 s
    offsets = [m.planned_at - m.slot for m in first]
    assert all(0 <= offset < 15_000 for offset in offsets) and len(set(offsets)) > len(offsets) // 2
    assert offsets == [jitter_ms(job["id"], m.slot, 15) for m in first]  # from (job, slot) alone
    for message, visible in engine.queued():  # each is delayed until its planned start (SQS: at most 15 minutes)
        if isinstance(message, RunMessage) and message.job_id == job["id"]:
            assert visible >= min(message.planned_at - 1_000, message.dispatched_at + 899_000)


def test_a_jittered_run_records_its_slot_and_planned_start_and_lag_from_it(api, engine, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern="*/10 * * * * *", jitterSeconds=3)).json
    slot = engine.make_due(job["id"], in_ms=100)
    engine.tick(slot - 100)
    mine = [m for m in runs_queued(engine, job["id"]) if m.slot == slot]
    assert mine, "the slot was not dispatched"
    time.sleep(max(0, mine[0].planned_at - now_ms()) / 1000 + 1.2)
    engine.deliver(engine.receive(wait=2))
    runs = [e for e in api.get(f"{JOBS}/{job['id']}/executions").json if e["scheduledFor"] == at(slot)]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    assert runs[0]["plannedAt"] == at(slot + jitter_ms(job["id"], slot, 3))
    started = datetime.fromisoformat(runs[0]["startedAt"]).timestamp() * 1000
    planned = datetime.fromisoformat(runs[0]["plannedAt"]).timestamp() * 1000
    assert started >= planned - 5 and runs[0]["lagMs"] == pytest.approx(started - planned, abs=2)


def test_manual_runs_are_not_jittered(api, engine, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern="0 0 * * *", jitterSeconds=3000)).json
    execution = api.post(f"{JOBS}/{job['id']}/trigger").json
    engine.deliver(engine.receive(wait=2))
    shown = api.get(f"/_/scheduler/executions/{execution['id']}").json
    assert shown["status"] == "succeeded" and shown["plannedAt"] == shown["scheduledFor"]


# --- pause until ---------------------------------------------------------------------------------------------------


def test_pause_until_shows_the_pause_and_resumes_by_itself_running_one_missed_slot(api, engine, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern=EVERY_SECOND)).json
    paused_at = now_ms()
    until = paused_at + 3_000
    paused = api.post(f"{JOBS}/{job['id']}/disable", {"until": at(until), "reason": "vendor maintenance"})
    assert paused.status == 200, paused.json
    assert paused.json["status"] == "paused" and paused.json["nextRunAt"] is None
    assert paused.json["pausedUntil"] == at(until) and paused.json["pausedReason"] == "vendor maintenance"
    for record in engine.receive():  # slots sent before the pause are dropped by the invoker (job disabled)
        engine.deliver([record])
    resumes = [m for m, _ in engine.queued() if isinstance(m, ResumeMessage)]
    assert resumes == [ResumeMessage(job["id"], until)]  # sent at once: the pause ends before the next tick
    deliver_until_resumed(engine)
    resumed = api.get(f"{JOBS}/{job['id']}").json
    assert resumed["status"] == "scheduled" and resumed["enabled"] is True
    assert "pausedUntil" not in resumed and "pausedReason" not in resumed
    assert abs(datetime.fromisoformat(resumed["updatedAt"]).timestamp() * 1000 - until) < 10_000
    # fire_once: the resume sends one run for the slots the pause made it miss: the latest slot by the time it
    # resumes (the one just after `until` when the resume comes a few ms after that slot), marked `missed`. A slot
    # message sent before the pause may still be on its way on a slow machine; its claim runs that slot once.
    missed = [m for m in runs_queued(engine, job["id"]) if m.missed and (m.dispatched_at or 0) >= paused_at]
    assert len(missed) == 1 and missed[0].missed >= 1 and missed[0].slot < until + 1_000, missed


def test_a_job_that_skips_misfires_resumes_with_no_missed_run(api, engine, target, app_id):
    job = api.post(JOBS, job_body(app_id, target, pattern=EVERY_SECOND, misfirePolicy="skip")).json
    until = now_ms() + 2_500
    api.post(f"{JOBS}/{job['id']}/disable", {"until": at(until)})
    deliver_until_resumed(engine)
    assert api.get(f"{JOBS}/{job['id']}").json["enabled"] is True
    assert all(m.slot >= until - 1_000 for m in runs_queued(engine, job["id"]))


def test_enable_or_a_plain_disable_ends_a_pause_and_an_until_in_the_past_is_refused(api, target, app_id):
    job = api.post(JOBS, job_body(app_id, target)).json
    past = api.post(f"{JOBS}/{job['id']}/disable", {"until": "2001-01-01T00:00:00Z"})
    assert past.status == 400 and past.error_fields() == ["until"]
    long = api.post(f"{JOBS}/{job['id']}/disable", {"until": "2999-01-01T00:00:00Z", "reason": "frozen"}).json
    assert long["pausedUntil"] == "2999-01-01T00:00:00.000Z"
    plain = api.post(f"{JOBS}/{job['id']}/disable").json
    assert plain["status"] == "paused" and "pausedUntil" not in plain
    api.post(f"{JOBS}/{job['id']}/disable", {"until": "2999-01-01T00:00:00Z"})
    enabled = api.post(f"{JOBS}/{job['id']}/enable").json
    assert enabled["status"] == "scheduled" and "pausedUntil" not in enabled and "pausedReason" not in enabled
    assert api.post(f"{JOBS}/{job['id']}/disable", {"reason": "x" * 501}).error_fields() == ["reason"]
    assert api.post(f"{JOBS}/{job['id']}/disable", {"reason": "a\u0000b"}).error_fields() == ["reason"]
    nulls = api.post(f"{JOBS}/{job['id']}/disable", {"until": None, "reason": None})  # null: not given
    assert nulls.status == 200 and nulls.json["status"] == "paused"


def test_a_resume_for_a_pause_that_changed_does_nothing(api, engine, target, app_id):
    from chalicelib.engine.tick import resume

    job = api.post(JOBS, job_body(app_id, target)).json
    api.post(f"{JOBS}/{job['id']}/disable", {"until": "2999-01-01T00:00:00Z"})
    assert resume(ResumeMessage(job["id"], now_ms() - 1)) is False  # an older pause's message
    assert api.get(f"{JOBS}/{job['id']}").json["status"] == "paused"


def test_a_job_is_not_late_for_slots_outside_its_window(api, target, app_id):
    rule = {"lateAfterSeconds": 10}
    later = api.post(JOBS, job_body(app_id, target, name="not-yet", pattern=EVERY_SECOND, alerts=rule,
                                    startAt="2031-01-01T00:00:00Z")).json  # fmt: skip
    ended = api.post(JOBS, job_body(app_id, target, name="over", pattern=EVERY_SECOND, alerts=rule,
                                    endAt=at(now_ms() + 1_000))).json  # fmt: skip
    time.sleep(12)  # past lateAfterSeconds: no engine runs here, so every slot in a window is late by now
    assert api.get(f"{JOBS}/{later['id']}").json["health"]["state"] != "late"  # no slot before its startAt
    assert api.get(f"{JOBS}/{ended['id']}").json["health"]["state"] == "late"  # its last second had no run
    from chalicelib.store import health, jobs

    job = jobs.get(ended["id"])
    assert job is not None and job.end_at is not None
    slot = health.late_slot(job, now_ms())
    assert slot is not None and slot < job.end_at  # the newest late slot is inside its window
