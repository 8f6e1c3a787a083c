"""Structured logs carry the run's keys and never a secret; metrics are emitted as CloudWatch EMF."""

from __future__ import annotations

import json

from tests.conftest import ONE_ATTEMPT, YEARLY

SECRETS = ("tok-secret-1", "hdr-secret-2", "pw-secret-3")


def secret_job(api, target, path="/echo"):
    app_id = api.make_app()["id"]
    config = {"endpoint": target.base, "path": path, "headers": {"X-Api-Key": SECRETS[1]},
              "auth": {"authMethod": "bearer", "token": SECRETS[0]}, "method": "POST",
              "body": {"password": SECRETS[2]}}  # fmt: skip
    return api.make_job(app_id, pattern=YEARLY, taskConfig=config, retryPolicy=ONE_ATTEMPT)


def test_run_lines_carry_job_execution_application_and_slot_and_no_secret(api, engine, target, log_lines):
    job = secret_job(api, target)
    slot = engine.make_due(job["id"])
    engine.run_due()
    lines = log_lines()
    finished = [line for line in lines if line["message"] == "run finished"]
    assert len(finished) == 1
    line = finished[0]
    assert line["jobId"] == job["id"] and line["slot"] == slot and line["applicationId"] == job["application"]["id"]
    assert line["executionId"] > 0 and line["status"] == "succeeded" and line["service"] == "scheduler"
    assert any(entry["message"] == "tick" and entry["dispatched"] == 1 for entry in lines)
    text = json.dumps(lines)
    assert target.requests and not any(secret in text for secret in SECRETS)


def test_failures_are_logged_without_secrets(api, engine, target, log_lines):
    job = secret_job(api, target, path="/status/500")
    engine.make_due(job["id"])
    engine.run_due()
    finished = [line for line in log_lines() if line["message"] == "run finished"]
    assert finished[0]["code"] == "HTTP_500"
    assert not any(secret in json.dumps(log_lines()) for secret in SECRETS)


def test_metrics_are_emitted_as_emf(api, engine, target, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    job = secret_job(api, target)
    engine.make_due(job["id"])
    engine.run_due()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in documents for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"TickDuration", "Dispatched", "SendFailures", "RunSucceeded", "FireLag", "RunDuration"} <= names
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Scheduler" for doc in documents)


def test_a_metric_with_a_hundred_values_is_written_once_and_the_flush_after_it_writes_nothing(monkeypatch, capsys):
    """Powertools writes the set by itself when one metric reaches 100 values (a big tick's fire lags); the
    flush of the batch after it must not write an empty document (which warns, an error in this suite)."""
    from chalicelib import observability

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    observability.flush()
    for lag in range(100):
        observability.milliseconds("FireLag", lag)
    observability.flush()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [len(doc["FireLag"]) for doc in documents] == [100]


def test_stats_show_the_last_tick_and_the_queue_to_admins_only(api, engine, target):
    """What a backlog was is now the queue's own sizes: dispatched slots wait there delayed, a run being
    worked on is in flight, a late one is ready."""
    import time

    job = secret_job(api, target)
    engine.make_due(job["id"], in_ms=5_000)
    report = engine.tick()
    engine.make_due(job["id"], in_ms=-1_000)  # a second slot, already late
    engine.tick()
    time.sleep(1.1)  # the local queue recounts its approximate sizes at most once a second (as SQS lags)
    stats = api.get("/_/scheduler/stats").json["engine"]
    assert stats["queue"] == {"ready": 1, "delayed": 1, "inFlight": 0}
    assert stats["lastTickDispatched"] == 1 and stats["lastTickAt"].endswith("Z")
    assert report.duration_ms >= 0 and isinstance(stats["lastTickDurationMs"], int)
    assert len(engine.receive()) == 1  # the late one, now in flight
    time.sleep(1.1)  # the local queue recounts its approximate sizes at most once a second (as SQS lags)
    assert api.get("/_/scheduler/stats").json["engine"]["queue"] == {"ready": 0, "delayed": 1, "inFlight": 1}
    from tests.conftest import token

    member = api.as_user(token("mia", apps=["demo"])).get("/_/scheduler/stats").json["engine"]
    assert member["queue"] is None and member["lastTickAt"] is None and member["lastTickDispatched"] is None


def test_a_redelivered_message_counts_as_a_redelivery(api, engine, target, monkeypatch):
    from chalicelib.invoker import run

    counted = []
    monkeypatch.setattr(run, "count", lambda name, value=1: counted.append(name))
    job = secret_job(api, target)
    engine.make_due(job["id"])
    engine.tick()
    records = engine.receive()
    run.handle_records([dict(r, attributes={"ApproximateReceiveCount": "2"}) for r in records])
    assert counted.count("Redeliveries") == 1 and "RunSucceeded" in counted
