"""Failure alerts end to end through the API, the invoker handler and real local receivers: a job that fails and
recovers sends one `failing` and one `recovered` alert, whatever the number of failed runs, concurrent runs or
redelivered messages; the tick finds late slots; deliveries are retried and recorded, and never cost a run its
record; health is shown on the job and the list."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from standardwebhooks import Webhook

from chalicelib.clock import iso, now_ms
from chalicelib.invoker import alerts
from chalicelib.queue import AlertMessage, RunMessage
from chalicelib.store import alerts as alert_store
from chalicelib.store import executions as execution_store
from chalicelib.store.health import late_slot
from chalicelib.store.models import JobModel
from tests.conftest import ONE_ATTEMPT, YEARLY

APPS = "/_/scheduler/applications"
HOOK = "/alerts"


def setup(api, target, path, alerts_rule=None, app=None, **job_fields):
    app = app or api.make_app()
    fields = {"alerts": alerts_rule} if alerts_rule is not None else {}
    job = api.make_job(app["id"], taskConfig={"endpoint": target.base, "path": path}, retryPolicy=ONE_ATTEMPT,
                       **{"pattern": YEARLY, **fields, **job_fields})  # fmt: skip
    channel = api.post(f"{APPS}/{app['id']}/channels",
                       {"name": f"hook-{job['id']}", "type": "webhook", "url": target.base + HOOK})  # fmt: skip
    assert channel.status == 201, channel.body
    return app, job, channel.json


def run_once(api, engine, job):
    """A manual run to its end, then whatever alert it queued delivered."""
    execution = api.post(f"/_/scheduler/jobs/{job['id']}/trigger").json
    assert engine.deliver(engine.receive()) == []
    engine.deliver(engine.receive())
    return execution_store.list_for_job(job["id"], None, 1, None, None, None)[0][0], execution


def alerts_received(target, secret=None):
    """Alerts the receiver got, in order (each verified as ours when the application's secret is given)."""
    found = []
    for request in target.requests:
        if request["path"] == HOOK:
            headers = {name.lower(): value for name, value in request["headers"].items()}
            found.append(Webhook(secret).verify(request["body"], headers) if secret else json.loads(request["body"]))
    return found


def test_a_failing_then_recovering_job_sends_one_failing_and_one_recovered_alert(api, engine, target):
    app, job, _ = setup(api, target, "/flaky/4", {"afterFailures": 2})
    outcomes = [run_once(api, engine, job)[0] for _ in range(5)]
    assert [e.status for e in outcomes] == ["failed"] * 4 + ["succeeded"]
    failing, recovered = alerts_received(target, app["signingKey"]["secret"])
    first, second, last = outcomes[0], outcomes[1], outcomes[-1]
    assert failing["type"] == "failing" and failing["consecutiveFailures"] == 2 and failing["since"] == iso(first.slot)
    assert failing["job"] == {"id": job["id"], "name": job["name"], "applicationId": app["id"]}
    assert failing["lastError"]["code"] == "HTTP_503" and failing["execution"] == {"id": second.id}
    assert recovered["type"] == "recovered" and recovered["consecutiveFailures"] == 4
    assert recovered["since"] == iso(first.slot) and recovered["execution"] == {"id": last.id}
    assert recovered["failingForSeconds"] == (last.finished_at - first.slot) // 1000
    ids = [r["headers"].get("webhook-id") for r in target.requests if r["path"] == HOOK]
    assert ids == [f"alert_{job['id']}_{first.slot}_failing", f"alert_{job['id']}_{first.slot}_recovered"]
    assert alert_store.open_incident(job["id"]) is None


def test_repeated_failures_concurrent_runs_and_redelivered_messages_send_one_failing_alert(api, engine, target):
    app, job, _ = setup(api, target, "/status/500", {"afterFailures": 1})
    run_once(api, engine, job)
    for _ in range(3):  # the incident goes on: no more alerts
        run_once(api, engine, job)
    for _ in range(4):  # four runs ending at once, in one batch
        api.post(f"/_/scheduler/jobs/{job['id']}/trigger")
    records = engine.receive()
    assert len(records) == 4 and engine.deliver(records) == []
    engine.deliver(engine.receive())
    finished = engine.executions(job["id"])
    duplicate = RunMessage(job["id"], finished[-1].slot, "manual", app["id"])  # SQS delivers a finished run again
    engine.deliver([{"messageId": "dup", "receiptHandle": "dup", "body": duplicate.encode(), "attributes": {}}])
    latest = finished[-1]
    with ThreadPoolExecutor(max_workers=4) as pool:  # the evaluation itself raced
        list(pool.map(lambda _: alerts.after_run(latest, _job(job["id"])), range(4)))
    engine.deliver(engine.receive())
    assert [alert["type"] for alert in alerts_received(target)] == ["failing"]
    assert len(finished) == 8 and {e.status for e in finished} == {"failed"}


def _job(job_id):
    from chalicelib.store import jobs as job_store

    return job_store.get(job_id)


def test_every_finished_run_counts_whether_the_job_is_enabled_or_not_and_a_job_without_alerts_sends_none(
    api, engine, target
):
    _, quiet, _ = setup(api, target, "/status/500")
    run_once(api, engine, quiet)
    assert alerts_received(target) == []
    _, job, _ = setup(api, target, "/status/500", {"afterFailures": 1}, app=api.make_app("other"), enabled=False)
    run_once(api, engine, job)
    assert [alert["type"] for alert in alerts_received(target)] == ["failing"]


def test_channels_get_only_the_events_they_list(api, engine, target):
    app, job, _ = setup(api, target, "/flaky/1", {"afterFailures": 1})
    slack = {"name": "recoveries", "type": "slack", "url": f"{target.base}/slack", "events": ["recovered"]}
    only = api.post(f"{APPS}/{app['id']}/channels", slack)
    assert only.status == 201
    run_once(api, engine, job)
    run_once(api, engine, job)
    assert [alert["type"] for alert in alerts_received(target)] == ["failing", "recovered"]
    (slack,) = [json.loads(r["body"]) for r in target.requests if r["path"] == "/slack"]
    assert f"Job *{job['name']}* recovered after 1 failed run(s)" in slack["text"]


def test_a_failed_delivery_is_retried_with_backoff_for_its_channel_alone_and_each_attempt_recorded(api, engine, target):
    app, job, good = setup(api, target, "/status/500", {"afterFailures": 1})
    bad = api.post(f"{APPS}/{app['id']}/channels",
                   {"name": "down", "type": "webhook", "url": f"{target.base}/status/503"}).json  # fmt: skip
    run_once(api, engine, job)
    (retry, visible_at), *_ = [(m, at) for m, at in engine.queued() if isinstance(m, AlertMessage)]
    assert retry.channel_id == bad["id"] and retry.attempt == 2 and visible_at - now_ms() > 5_000  # 10 s later
    record = {"messageId": "r", "receiptHandle": "r", "body": retry.encode(), "attributes": {}}
    assert engine.deliver([record]) == []
    assert len(alerts_received(target)) == 1  # the good channel got it once; the retry went to the bad one
    attempts = api.get(f"{APPS}/{app['id']}/channels/{bad['id']}/deliveries").json
    assert [(d["attempt"], d["status"], d["httpStatus"]) for d in attempts] == [(2, "failed", 503), (1, "failed", 503)]
    (delivered,) = api.get(f"{APPS}/{app['id']}/channels/{good['id']}/deliveries").json
    assert delivered["status"] == "delivered" and delivered["type"] == "failing"
    last = AlertMessage(retry.alert_id, app["id"], retry.body, bad["id"], alerts.MAX_ATTEMPTS)
    engine.deliver([{"messageId": "l", "receiptHandle": "l", "body": last.encode(), "attributes": {}}])
    assert [m for m, _ in engine.queued() if isinstance(m, AlertMessage) and m.attempt > alerts.MAX_ATTEMPTS] == []


def test_a_failing_channel_or_evaluation_never_costs_the_run_its_record(api, engine, target, monkeypatch):
    app, job, channel = setup(api, target, "/status/500", {"afterFailures": 1})
    assert api.put(f"{APPS}/{app['id']}/channels/{channel['id']}", {"url": f"{target.base}/reset"}).status == 200
    recorded, _ = run_once(api, engine, job)
    assert recorded.status == "failed" and recorded.error["code"] == "HTTP_500"
    monkeypatch.setattr(alert_store, "open_incident", lambda job_id: 1 / 0)
    again, _ = run_once(api, engine, job)
    assert again.status == "failed" and again.finished_at is not None


def test_a_slot_that_has_not_started_in_time_sends_one_late_alert_from_the_tick(api, engine, target):
    app, job, _ = setup(api, target, "/ok", {"lateAfterSeconds": 10}, pattern="* * * * *")
    quiet = api.make_job(app["id"], name="no-rule", pattern="* * * * *", taskConfig={"endpoint": target.base})
    now = now_ms()
    for job_id in (job["id"], quiet["id"]):  # made long ago: its recent slots should have started
        JobModel(job_id).update(actions=[JobModel.updatedAt.set(now - 600_000)])
    assert api.get(f"/_/scheduler/jobs/{job['id']}").json["health"]["state"] == "late"
    assert api.get(f"/_/scheduler/jobs/{quiet['id']}").json["health"]["state"] == "unknown"
    assert engine.tick(now).late_alerts == 1
    assert engine.tick(now).late_alerts == 0  # claimed: one alert per slot
    late = [m for m, _ in engine.queued() if isinstance(m, AlertMessage)]
    assert len(late) == 1 and late[0].body["type"] == "late" and late[0].body["lateAfterSeconds"] == 10
    slot = late[0].body["scheduledFor"]
    engine.deliver([{"messageId": "l", "receiptHandle": "l", "body": late[0].encode(), "attributes": {}}])
    (alert,) = alerts_received(target, app["signingKey"]["secret"])
    assert alert["type"] == "late" and alert["scheduledFor"] == slot and alert["job"]["id"] == job["id"]


def test_a_slot_whose_run_started_is_not_late_and_removing_the_rule_stops_the_checks(api, engine, target):
    app, job, _ = setup(api, target, "/ok", {"lateAfterSeconds": 30}, pattern="* * * * *")
    JobModel(job["id"]).update(actions=[JobModel.updatedAt.set(now_ms() - 600_000)])
    now = now_ms()
    slot = late_slot(_job(job["id"]), now)
    assert slot is not None
    execution_store.claim(job["id"], app["id"], slot, now, snapshot=None)
    assert engine.tick(now).late_alerts == 0
    assert alert_store.watched() == {job["id"]}
    assert api.put(f"/_/scheduler/jobs/{job['id']}", {"alerts": {"afterFailures": 3}}).status == 200
    assert alert_store.watched() == set()
    api.put(f"/_/scheduler/jobs/{job['id']}", {"alerts": {"lateAfterSeconds": 60}})
    assert alert_store.watched() == {job["id"]}
    assert api.delete(f"/_/scheduler/jobs/{job['id']}").status == 204 and alert_store.watched() == set()


def test_health_in_the_job_and_the_list_and_the_list_filters_on_it(api, engine, target):
    app = api.make_app()

    def make(name, path, **rule):
        task = {"endpoint": target.base, "path": path}
        return api.make_job(app["id"], name=name, pattern=YEARLY, retryPolicy=ONE_ATTEMPT, taskConfig=task, **rule)

    failing, healthy, fresh = make("failing", "/flaky/2"), make("healthy", "/ok"), make("fresh", "/ok")
    patient = make("patient", "/status/500", alerts={"afterFailures": 3})
    assert api.get(f"/_/scheduler/jobs/{fresh['id']}").json["health"] == {
        "state": "unknown", "consecutiveFailures": 0, "since": None, "lastSuccessAt": None}  # fmt: skip
    first, _ = run_once(api, engine, failing)
    run_once(api, engine, failing)
    ok, _ = run_once(api, engine, healthy)
    for _ in range(2):
        run_once(api, engine, patient)
    health = api.get(f"/_/scheduler/jobs/{failing['id']}").json["health"]
    assert health == {"state": "failing", "consecutiveFailures": 2, "since": iso(first.slot), "lastSuccessAt": None}
    assert api.get(f"/_/scheduler/jobs/{healthy['id']}").json["health"] == {
        "state": "ok", "consecutiveFailures": 0, "since": None, "lastSuccessAt": iso(ok.finished_at)}  # fmt: skip
    assert api.get(f"/_/scheduler/jobs/{patient['id']}").json["health"]["state"] == "ok"  # 2 of the 3 it allows
    listed = {job["name"]: job["health"]["state"] for job in api.get("/_/scheduler/jobs?include=lastRun").json}
    assert listed == {"failing": "failing", "healthy": "ok", "fresh": "unknown", "patient": "ok"}
    only = api.get("/_/scheduler/jobs?health=failing&limit=2")
    assert [job["name"] for job in only.json] == ["failing"] and only.headers.get("x-next-cursor")
    rest = api.get(f"/_/scheduler/jobs?health=failing&limit=2&cursor={only.headers['x-next-cursor']}")
    assert rest.json == []
    recovered, _ = run_once(api, engine, failing)
    assert recovered.status == "succeeded"
    assert api.get(f"/_/scheduler/jobs/{failing['id']}").json["health"]["state"] == "ok"
    assert api.get("/_/scheduler/jobs?health=bad").status == 400


def test_jobs_json_accepts_the_alerts_rule_and_the_api_validates_it(api):
    app = api.make_app()
    body = {"applicationId": app["id"], "name": "r", "pattern": "* * * * *",
            "taskConfig": {"endpoint": "https://api.example.com"}}  # fmt: skip
    refused = (({"afterFailures": 0}, "alerts.afterFailures"), ({"afterFailures": 101}, "alerts.afterFailures"),
               ({"lateAfterSeconds": 5}, "alerts.lateAfterSeconds"), ({"late": 1}, "alerts.late"))  # fmt: skip
    for rule, field in refused:
        answer = api.post("/_/scheduler/jobs", {**body, "alerts": rule})
        assert answer.status == 400 and field in answer.error_fields(), answer.json
    created = api.post("/_/scheduler/jobs", {**body, "alerts": {"lateAfterSeconds": 600}}).json
    assert created["alerts"] == {"afterFailures": 1, "lateAfterSeconds": 600}
    removed = api.put(f"/_/scheduler/jobs/{created['id']}", {"alerts": None}).json
    assert "alerts" not in removed


def test_jobs_json_carries_the_alerts_rule(api, tmp_path):
    from chalicelib.bootstrap import sync

    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "application.json").write_text(json.dumps({"name": "crm", "displayName": "CRM"}))
    job = {"name": "health", "pattern": "*/5 * * * *", "taskConfig": {"url": "https://crm.example.com/health"},
           "alerts": {"afterFailures": 3, "lateAfterSeconds": 120}}  # fmt: skip
    (folder / "jobs.json").write_text(json.dumps([job]))
    assert sync.run(tmp_path).errors == []
    (stored,) = api.get("/_/scheduler/jobs").json
    assert stored["alerts"] == {"afterFailures": 3, "lateAfterSeconds": 120} and alert_store.watched() == {stored["id"]}
    (folder / "jobs.json").write_text(json.dumps([{**job, "alerts": {"afterFailures": 0}}]))
    refused = sync.run(tmp_path)
    assert refused.errors and "alerts.afterFailures" in json.dumps(refused.errors)


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_job_with_alerts_costs_a_read_or_two_per_run_and_no_write(api, engine, target, requests_made, status):
    """A job without alerts costs what it did (tests/engine/test_cost.py pins it); with alerts, a run that does not
    change the job's state adds reads only: its open incident, and after a failure its newest runs."""
    path = "/ok" if status == "succeeded" else "/status/500"
    app, plain, _ = setup(api, target, path)
    _, ruled, _ = setup(api, target, path, {"afterFailures": 2}, app=app, name="ruled")
    costs = []
    for job in (plain, ruled):
        engine.make_due(job["id"], in_ms=300)
        engine.tick()
        requests_made.clear()
        engine.deliver(engine.receive())
        costs.append({name: n for name, n in requests_made.items() if name.startswith(("dynamodb", "sqs"))})
    extra = {"succeeded": {"dynamodb.GetItem": 1}, "failed": {"dynamodb.GetItem": 1, "dynamodb.Query": 1}}[status]
    plain_cost, ruled_cost = costs
    assert {name: ruled_cost.get(name, 0) - plain_cost.get(name, 0) for name in {*plain_cost, *ruled_cost}
            if ruled_cost.get(name, 0) != plain_cost.get(name, 0)} == extra  # fmt: skip
