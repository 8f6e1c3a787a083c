"""A scheduled run end to end: tick -> SQS -> invoker -> execution record, against a real local target."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.clock import now_ms, to_ms
from chalicelib.invoker.run import handle_records
from chalicelib.settings import get_settings
from chalicelib.store import jobs as job_store
from chalicelib.store.models import ExecutionModel, JobModel
from chalicelib.store.records import Execution
from tests.conftest import ONE_ATTEMPT, YEARLY, run_events, store_spec

JOBS = "/_/scheduler/jobs"


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def make(api, app_id, target, path="/ok", name="job", **config):
    task = {"endpoint": target.base, "path": path, **config}
    return api.make_job(app_id, name=name, pattern=YEARLY, taskConfig=task, retryPolicy=ONE_ATTEMPT)


def run_once(api, engine, job, resolver=None) -> dict:
    engine.make_due(job["id"])
    assert engine.run_due(resolver) == []
    return api.get(f"{JOBS}/{job['id']}/executions").json[0]


def test_a_2xx_answer_succeeds_with_result(api, engine, target, app_id):
    job = make(api, app_id, target, path="/echo")
    execution = run_once(api, engine, job)
    assert execution["status"] == "succeeded" and execution["trigger"] == "schedule"
    assert execution["result"]["status"] == 200
    assert execution["result"]["data"]["path"] == "/echo"
    assert execution["result"]["headers"]["content-type"] == "application/json"
    assert execution["attempt"] == 1 and execution["durationMs"] >= 0 and execution["lagMs"] < 1000
    assert execution["jobSnapshot"]["request"] == {"method": "GET", "url": f"{target.base}/echo"}
    assert len(target.requests) == 1


@pytest.mark.parametrize(
    ("path", "config", "code"),
    [
        ("/status/503", {}, "HTTP_503"),
        ("/status/404", {}, "HTTP_404"),
        ("/slow/3000", {"timeout": 1000}, "ETIMEDOUT"),
        ("/reset", {}, "ECONNRESET"),
        ("/loop", {}, "TOO_MANY_REDIRECTS"),
    ],
)
def test_failures_carry_their_code(api, engine, target, app_id, path, config, code):
    execution = run_once(api, engine, make(api, app_id, target, path=path, **config))
    assert execution["status"] == "failed"
    assert execution["error"]["code"] == code, execution["error"]
    if code.startswith("HTTP_"):
        assert execution["result"]["status"] == int(code[5:]) and execution["result"]["data"] == {"state": "bad"}


def test_connection_refused(api, engine, target, app_id, settings_env):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{port}")
    get_settings.cache_clear()
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": f"http://127.0.0.1:{port}"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    assert run_once(api, engine, job)["error"]["code"] == "ECONNREFUSED"


def test_tls_failure(api, engine, target, app_id):
    job = make(api, app_id, target)
    api.put(f"{JOBS}/{job['id']}", {"taskConfig": {"endpoint": f"https://127.0.0.1:{target.port}"}})
    assert run_once(api, engine, job)["error"]["code"] == "TLS_ERROR"


def test_name_that_does_not_resolve(api, engine, app_id):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": "https://gone.example.org"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip

    def nothing(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "unknown")

    assert run_once(api, engine, job, resolver=nothing)["error"]["code"] == "ENOTFOUND"


def test_dynamic_url_is_checked_at_execution(api, engine, app_id, target):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"url": "http://${T:YYYY}.internal/x"})
    execution = run_once(api, engine, job)
    assert execution["error"]["code"] == "URL_NOT_ALLOWED" and target.requests == []


def test_a_malformed_placeholder_fails_with_param_error(api, engine, app_id, target):
    job = make(api, app_id, target)
    store_spec(job["id"], taskConfig={**job_store.get(job["id"]).task_config, "path": "/x/${T:QQQ}"})
    execution = run_once(api, engine, job)
    assert execution["error"]["code"] == "PARAM_ERROR" and "${T:QQQ}" in execution["error"]["message"]
    assert target.requests == []


def test_garbage_and_huge_bodies_are_recorded_safely(api, engine, target, app_id):
    garbage = run_once(api, engine, make(api, app_id, target, path="/garbage", name="g"))
    assert garbage["status"] == "succeeded" and isinstance(garbage["result"]["data"], str)
    big = run_once(api, engine, make(api, app_id, target, path="/big", name="b"))
    assert big["status"] == "succeeded" and big["result"]["truncated"] is True
    assert big["result"]["data"] == "x" * get_settings().result_body_bytes  # RESULT_BODY_BYTES characters, as text


def test_result_body_bytes_caps_what_a_run_stores(api, engine, target, app_id, settings_env):
    settings_env.setenv("RESULT_BODY_BYTES", "10")
    echo = run_once(api, engine, make(api, app_id, target, path="/echo", name="e"))
    assert echo["status"] == "succeeded" and echo["result"]["truncated"] is True
    assert isinstance(echo["result"]["data"], str) and len(echo["result"]["data"]) == 10  # JSON cut is kept as text
    settings_env.setenv("RESULT_BODY_BYTES", "4096")
    whole = run_once(api, engine, make(api, app_id, target, path="/echo", name="w"))
    assert whole["result"]["data"]["path"] == "/echo" and "truncated" not in whole["result"]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kathmandu"])
def test_parameters_resolve_in_every_field_in_the_job_time_zone(api, engine, target, app_id, zone):
    config = {
        "method": "POST",
        "path": "/echo/${T-1:YYYY-MM-DD}",
        "body": {"day": "${T:YYYY-MM-DD}", "nested": ["${T+7:DD}"], "n": 5},
        "headers": {"X-Stamp": "${T:YYYY-MM-DDTHH:mm:ss}"},
    }
    job = api.make_job(app_id, pattern=YEARLY, timezone=zone, taskConfig={"endpoint": target.base, **config})
    slot = engine.make_due(job["id"])
    engine.run_due()
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(slot / 1000, UTC).astimezone(ZoneInfo(zone))
    request = target.requests[0]
    assert request["path"] == "/echo/" + (local - timedelta(days=1)).strftime("%Y-%m-%d")
    assert json.loads(request["body"]) == {
        "day": local.strftime("%Y-%m-%d"),
        "nested": [(local + timedelta(days=7)).strftime("%d")],
        "n": 5,
    }
    assert request["headers"]["X-Stamp"] == local.strftime("%Y-%m-%dT%H:%M:%S")


def test_secrets_reach_the_target_but_never_the_record(api, engine, target, app_id):
    basic = {"authMethod": "basic", "username": "u", "password": "pw"}
    job = make(api, app_id, target, path="/echo", headers={"X-Api-Key": "hdr-secret"}, auth=basic)
    execution = run_once(api, engine, job)
    sent = target.requests[0]["headers"]
    assert sent["X-Api-Key"] == "hdr-secret"
    assert sent["Authorization"] == "Basic " + base64.b64encode(b"u:pw").decode()
    snapshot = execution["jobSnapshot"]["taskConfig"]
    assert snapshot["headers"]["X-Api-Key"] == "********" and snapshot["auth"]["password"] == "********"
    assert "hdr-secret" not in json.dumps(execution) and '"pw"' not in json.dumps(execution)


def test_bearer_and_api_key_auth_are_sent(api, engine, target, app_id):
    bearer = make(api, app_id, target, name="b", auth={"authMethod": "bearer", "token": "tok"})
    keyed = make(api, app_id, target, name="k", auth={"authMethod": "apiKey", "headerName": "X-Key", "key": "kk"})
    run_once(api, engine, bearer)
    run_once(api, engine, keyed)
    assert target.requests[0]["headers"]["Authorization"] == "Bearer tok"
    assert target.requests[1]["headers"]["X-Key"] == "kk"


# --- exactly once ------------------------------------------------------------------------------------


def test_a_duplicate_delivery_runs_once(api, engine, target, app_id):
    job = make(api, app_id, target)
    engine.make_due(job["id"])
    engine.tick()
    records = engine.receive()
    assert len(records) == 1
    engine.deliver(records + records)
    assert engine.deliver(records) == []  # the run is recorded: a later delivery is dropped, and done with
    assert len(target.requests) == 1
    assert [e.status for e in engine.executions(job["id"])] == ["succeeded"]


def test_two_concurrent_ticks_dispatch_each_slot_once(api, engine, target, app_id):
    from concurrent.futures import ThreadPoolExecutor

    jobs = [make(api, app_id, target, name=f"j{i}") for i in range(20)]
    for job in jobs:
        engine.make_due(job["id"], in_ms=300)
    at = now_ms()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(engine.tick, [at, at]))
    assert sum(r.advanced for r in reports) == 20  # each cursor moved by exactly one of them (conditionally)
    sent = sum(r.dispatched for r in reports)
    assert 20 <= sent <= 40 and sum(r.failed_sends for r in reports) == 0  # a slot both found goes out twice
    records = engine.receive()
    assert len(records) == sent
    assert engine.deliver_apart(records) == []  # the twin of a run already recorded is dropped
    assert len(target.requests) == 20
    for job in jobs:
        assert [e.status for e in engine.executions(job["id"])] == ["succeeded"]


def test_a_retried_tick_dispatches_nothing_new(api, engine, target, app_id):
    job = make(api, app_id, target)
    engine.make_due(job["id"])
    first = engine.tick()
    second = engine.tick()
    assert first.dispatched == 1 and second.due_jobs == 0
    engine.deliver(engine.receive())
    assert len(target.requests) == 1


def test_sqs_down_at_dispatch_keeps_the_cursor_and_the_next_tick_sends(api, engine, target, app_id, monkeypatch):
    from chalicelib import queue

    job = make(api, app_id, target)
    slot = engine.make_due(job["id"], in_ms=400)

    def broken(*args, **kwargs):
        raise ConnectionError("SQS is down")

    real = queue.client()
    monkeypatch.setattr(queue.client(), "send_message_batch", broken)
    report = engine.tick()
    assert report.failed_sends == 1 and report.dispatched == 0 and report.advanced == 0
    assert engine.receive() == [] and engine.executions(job["id"]) == []  # the tick writes no execution
    assert int(JobModel.get(job["id"]).nextRunAt) == slot  # not advanced: the slot is still due
    monkeypatch.undo()
    assert queue.client() is real
    repaired = engine.tick()
    assert repaired.dispatched == 1 and repaired.advanced == 1 and repaired.failed_sends == 0
    engine.deliver(engine.receive())
    assert len(target.requests) == 1 and [e.status for e in engine.executions(job["id"])] == ["succeeded"]


def test_deleted_after_dispatch_does_not_run_and_history_stays_readable(api, engine, target, app_id):
    job = make(api, app_id, target)
    earlier = engine.make_due(job["id"])
    engine.run_due()
    engine.make_due(job["id"], in_ms=300)
    engine.tick()
    assert api.delete(f"{JOBS}/{job['id']}").status == 204
    assert engine.deliver(engine.receive()) == []
    assert len(target.requests) == 1  # the earlier run only
    assert [(e.slot, e.status) for e in engine.executions(job["id"])] == [(earlier, "succeeded")]  # nothing written
    history = api.get(f"{JOBS}/{job['id']}/executions")
    assert history.status == 200 and [e["status"] for e in history.json] == ["succeeded"]
    assert api.get("/_/scheduler/stats").json["executions"]["last24h"] == {"succeeded": 1, "failed": 0, "skipped": 1}
    assert api.get(f"/_/scheduler/executions/{history.json[0]['id']}").status == 200


def test_the_slot_advances_and_the_next_tick_finds_nothing(api, engine, target, app_id):
    job = make(api, app_id, target)
    slot = engine.make_due(job["id"])
    engine.tick()
    stored = JobModel.get(job["id"])
    assert int(stored.nextRunAt) > slot and int(stored.nextRunAt) % 60_000 == 0


def test_one_off_job_runs_once_then_is_completed(api, engine, target, app_id):
    run_at = datetime.fromtimestamp((now_ms() + 60_000) / 1000, UTC).isoformat()
    body = {"applicationId": app_id, "name": "once", "runAt": run_at, "taskConfig": {"endpoint": target.base}}
    job = api.post("/_/scheduler/jobs/schedule", body).json
    assert job["status"] == "scheduled"
    engine.make_due(job["id"])
    engine.run_due()
    engine.run_due()
    shown = api.get(f"{JOBS}/{job['id']}").json
    assert shown["status"] == "completed" and shown["nextRunAt"] is None
    assert len(target.requests) == 1


def test_a_misfired_slot_runs_once_and_counts_what_was_missed(api, engine, target, app_id):
    job = api.make_job(app_id, pattern="* * * * *", taskConfig={"endpoint": target.base})
    long_ago = (now_ms() // 60_000 - 10) * 60_000
    JobModel(job["id"]).update(actions=[JobModel.nextRunAt.set(long_ago), JobModel.dueShard.set(job["id"] % 4)])
    at = now_ms()
    engine.tick(at)
    engine.deliver(engine.receive())
    executions = engine.executions(job["id"])
    misfired = [e for e in executions if int(e.slot) <= at]
    assert len(misfired) == 1 and misfired[0].status == "succeeded"  # one run now, no burst of ten
    assert misfired[0].missed_slots in (10, 11)  # 11 when a minute boundary passed since long_ago was taken
    ran = [e for e in executions if e.status == "succeeded"]
    assert len(target.requests) == len(ran) <= 2  # plus, near a boundary, the next slot due at once


def test_retention_sets_the_ttl(api, engine, target, app_id, settings_env):
    settings_env.setenv("EXECUTION_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    job = make(api, app_id, target)
    slot = engine.make_due(job["id"])
    engine.run_due()
    item = ExecutionModel.get(job["id"], slot)  # the TTL is the store's own attribute: not on the record
    assert item.status == "succeeded" and int(item.expiresAt) == int(item.createdAt) // 1000 + 7 * 86_400


def test_runs_start_on_the_slot_second(api, engine, target, app_id):
    job = make(api, app_id, target)
    slot = engine.make_due(job["id"], in_ms=800)
    engine.run_due()
    execution = engine.executions(job["id"])[0]
    assert 0 <= execution.started_at - slot < 500 and execution.lag_ms == execution.started_at - slot
    assert to_ms(datetime.now(UTC)) >= slot


def test_a_slow_tick_still_hands_each_run_over_by_its_slot(api, engine, target, app_id, monkeypatch):
    """Delays are counted when each batch is sent, not when the tick started: a tick that spends seconds finding
    its due jobs (thousands of them) must not deliver its runs late by that long."""
    job = make(api, app_id, target)
    slot = engine.make_due(job["id"], in_ms=3_000)
    due = job_store.due

    def slow_due(*args, **kwargs):
        time.sleep(1.6)
        return due(*args, **kwargs)

    monkeypatch.setattr(job_store, "due", slow_due)
    engine.tick(now_ms())
    records: list[dict[str, Any]] = []
    while not records and now_ms() < slot + 3_000:
        records = engine.receive(wait=1)
    arrived = now_ms()
    assert records and arrived <= slot + 300, arrived - slot  # counted from the tick's start it would be ~1.6 s late


def sent_slots(engine, job_id: int, every_ms: int, before: int, after: int) -> list[int]:
    """The slots of `job_id` waiting in the queue, each checked to become receivable on its slot's second (never
    before the slot, never a second late, counted from when it was sent: between `before` and `after`)."""
    slots = []
    for message, receivable_at in engine.queued():
        if getattr(message, "job_id", None) == job_id:
            assert message.trigger == "schedule" and message.slot % every_ms == 0 and message.due_at is None
            assert before <= message.dispatched_at <= after
            # never a second early; late only by the send's own latency (its delay is counted just before it goes)
            assert message.slot - 1_000 < receivable_at <= max(message.slot, after) + 500, (message, receivable_at)
            slots.append(message.slot)
    assert len(slots) == len(set(slots)), slots  # each slot once (sent side by side, so in any order)
    return sorted(slots)


def test_a_job_whose_first_slot_comes_before_the_next_tick_is_dispatched_at_once(api, engine, target, app_id):
    """Created, a per-minute job sends its first dispatch window (DISPATCH_WINDOW_SECONDS of slots, delayed) at
    once and its cursor moves past them; the next tick finds it not due. No execution is written until a run
    starts."""
    before = now_ms()
    job = api.make_job(app_id, pattern="* * * * *", taskConfig={"endpoint": target.base})
    after = now_ms()
    window = get_settings().dispatch_window_seconds * 1000
    slots = sent_slots(engine, job["id"], 60_000, before, after)
    # the first minute after the job was created, which happened between `before` and `after` (a minute boundary
    # may fall in between: then either minute is the first)
    assert slots[0] in {(before // 60_000 + 1) * 60_000, (after // 60_000 + 1) * 60_000}
    assert slots == list(range(slots[0], slots[-1] + 1, 60_000)) and before + window <= slots[-1] + 60_000
    assert slots[-1] < after + window  # every slot of the window, none beyond it
    assert int(JobModel.get(job["id"]).nextRunAt) == slots[-1] + 60_000
    assert engine.executions(job["id"]) == []
    report = engine.tick()
    assert report.due_jobs == 0 and report.dispatched == 0  # its cursor is a window ahead of the lookahead


def test_a_slot_dropped_by_a_schedule_change_after_dispatch_does_not_run(api, engine, target, app_id):
    from chalicelib.queue import RunMessage

    job = make(api, app_id, target)
    dispatched_at = now_ms()
    slot = dispatched_at + 200  # a slot of the old schedule
    api.put(f"{JOBS}/{job['id']}", {"pattern": "15 3 * * *"})
    message = RunMessage(job["id"], slot, "schedule", app_id, dispatched_at=dispatched_at, timeout=30)
    assert handle_records([{"messageId": "m-1", "body": message.encode()}]) == []  # done with: dropped
    assert target.requests == [] and engine.executions(job["id"]) == []  # no record written
    assert api.get("/_/scheduler/stats").json["executions"]["last24h"] == {"succeeded": 0, "failed": 0, "skipped": 1}


def test_an_edit_after_dispatch_that_keeps_the_slot_keeps_the_run(api, engine, target, app_id):
    from chalicelib.queue import RunMessage

    job = make(api, app_id, target)
    dispatched_at = now_ms()
    slot = dispatched_at - dispatched_at % 5_000  # a slot of the new schedule too
    assert api.put(f"{JOBS}/{job['id']}", {"pattern": "*/5 * * * * *", "taskConfig": {"path": "/echo"}}).status == 200
    message = RunMessage(job["id"], slot, "schedule", app_id, dispatched_at=dispatched_at, timeout=30)
    assert handle_records([{"messageId": "m-1", "body": message.encode()}]) == []
    (execution,) = engine.executions(job["id"])
    assert execution.slot == slot and execution.status == "succeeded" and target.requests[0]["path"] == "/echo"


def test_fires_at_says_whether_a_slot_is_one_of_the_patterns_in_its_time_zone():
    """What the invoker asks of an edited job (`_rescheduled`): is the dispatched slot still one of its slots. The
    run itself: test_an_edit_after_dispatch_that_keeps_the_slot_keeps_the_run."""
    from chalicelib import cron

    def at(hour: int, minute: int) -> int:
        return to_ms(datetime(2026, 11, 23, hour, minute, tzinfo=UTC))

    assert cron.fires_at("*/5 * * * *", "UTC", at(20, 5))
    assert not cron.fires_at("*/5 * * * *", "UTC", at(20, 6))
    assert cron.fires_at("30 9 * * *", "Asia/Kolkata", at(4, 0))  # 09:30 IST
    assert not cron.fires_at("30 9 * * *", "Asia/Kolkata", at(9, 30))


def test_a_seconds_pattern_is_dispatched_slot_by_slot_with_delays(api, engine, target, app_id):
    before = now_ms()
    job = api.make_job(app_id, pattern="*/15 * * * * *", taskConfig={"endpoint": target.base})
    after = now_ms()
    window = get_settings().dispatch_window_seconds * 1000
    slots = sent_slots(engine, job["id"], 15_000, before, after)  # each delayed to its own second
    assert slots == list(range((before // 15_000 + 1) * 15_000, slots[-1] + 1, 15_000))
    assert before + window <= slots[-1] + 15_000 and slots[-1] < after + window and len(slots) in (60, 61)
    assert int(JobModel.get(job["id"]).nextRunAt) == slots[-1] + 15_000
    assert len(engine.receive()) <= 1  # only a slot under a second away can be received yet


def test_misfire_policy_skip_runs_nothing_for_missed_slots(api, engine, target, app_id):
    job = api.make_job(app_id, pattern=YEARLY, misfirePolicy="skip", taskConfig={"endpoint": target.base})
    last_new_year = to_ms(datetime(datetime.now(UTC).year - 1, 1, 1, tzinfo=UTC))
    JobModel(job["id"]).update(actions=[JobModel.nextRunAt.set(last_new_year), JobModel.dueShard.set(job["id"] % 4)])
    report = engine.tick()
    engine.deliver(engine.receive())
    assert report.dispatched == 0 and target.requests == [] and engine.executions(job["id"]) == []
    assert int(JobModel.get(job["id"]).nextRunAt) == to_ms(datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC))
    assert api.get(f"{JOBS}/{job['id']}").json["misfirePolicy"] == "skip"


@pytest.mark.parametrize("policy", ["forbid", "allow"])
def test_concurrency_policy_decides_whether_a_slot_overlaps_a_running_one(
    api, engine, target, app_id, policy, bus_queue
):
    from chalicelib.store import executions as execution_store

    job = api.make_job(app_id, pattern=YEARLY, concurrencyPolicy=policy, taskConfig={"endpoint": target.base})
    earlier = now_ms() - 30_000
    assert execution_store.claim(job["id"], app_id, earlier, earlier + 5, snapshot=None) is not None  # still running
    engine.make_due(job["id"])
    assert engine.run_due() == []
    previous, current = engine.executions(job["id"])
    assert previous.slot == earlier and previous.status == "running"  # untouched
    stats = api.get("/_/scheduler/stats").json["executions"]["last24h"]
    outcomes = [(kind, detail["id"]) for kind, detail in run_events(bus_queue())]
    if policy == "forbid":
        assert current.status == "failed" and current.error["code"] == "SKIPPED_OVERLAP" and target.requests == []
        assert current.attempt == 0 and current.started_at is None  # it never started
        assert stats == {"succeeded": 0, "failed": 0, "skipped": 1}
        assert outcomes == [("failed", current.id)]  # like every other run that ends without running
    else:
        assert current.status == "succeeded" and len(target.requests) == 1
        assert stats == {"succeeded": 1, "failed": 0, "skipped": 0} and outcomes == [("succeeded", current.id)]


def test_a_run_delivered_ahead_is_claimed_before_its_slot_and_calls_on_it(api, engine, target, app_id, settings_env):
    """DELIVERY_LEAD_SECONDS (make run: 5): the message comes that much early, the run is claimed at once (a
    second delivery meets the claim), and the call still goes out on the slot's second; lag is the call's."""
    settings_env.setenv("DELIVERY_LEAD_SECONDS", "4")
    job = make(api, app_id, target)
    slot = engine.make_due(job["id"], in_ms=4_500)
    engine.tick()
    records = engine.receive(wait=2)
    assert records and to_ms(datetime.now(UTC)) < slot  # delivered ahead of the slot
    claimed_before: list[Execution] = []
    waiter = threading.Thread(target=engine.deliver, args=(records,))
    waiter.start()
    deadline = time.monotonic() + 4
    while not claimed_before and time.monotonic() < deadline:
        claimed_before = [e for e in engine.executions(job["id"]) if e.status == "running"]
        time.sleep(0.02)
    assert claimed_before and to_ms(datetime.now(UTC)) < slot and not target.requests
    waiter.join()
    (execution,) = engine.executions(job["id"])
    assert execution.status == "succeeded" and len(target.requests) == 1
    assert 0 <= execution.started_at - slot < 500 and execution.lag_ms == execution.started_at - slot
