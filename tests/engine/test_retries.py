"""retryPolicy: timeouts, connection errors, 429 and 5xx are retried with backoff through SQS delays;
one execution record per slot keeps every attempt."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from chalicelib.contracts.models import RetryPolicy
from chalicelib.invoker.run import retry_delay, retryable
from tests.conftest import YEARLY

FAST = {"maxAttempts": 3, "backoff": {"initialSeconds": 1, "maxSeconds": 1}}


def job_with(api, target, path, policy=None):
    app_id = api.make_app()["id"]
    extra = {"retryPolicy": policy} if policy is not None else {}
    return api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": path}, **extra)


def deliver_until_done(engine, job_id, rounds=5):
    for _ in range(rounds):
        records = engine.receive(wait=3)
        if not records:
            break
        engine.deliver(records)
    return engine.executions(job_id)


def test_a_flaky_target_succeeds_on_the_third_attempt_in_one_record(api, engine, target):
    job = job_with(api, target, "/flaky/2", FAST)
    engine.make_due(job["id"])
    engine.run_due()
    (after_first,) = engine.executions(job["id"])
    assert after_first.status == "pending" and after_first.attempt == 1 and after_first.due_at > after_first.slot
    assert [a["error"]["code"] for a in after_first.attempts] == ["HTTP_503"]
    executions = deliver_until_done(engine, job["id"])
    assert len(executions) == 1
    execution = executions[0]
    assert execution.status == "succeeded" and execution.attempt == 3
    assert [a["error"]["code"] if a["error"] else None for a in execution.attempts] == ["HTTP_503", "HTTP_503", None]
    assert execution.lag_ms < 1000  # the first attempt's lag, not the retries'
    assert target.hits["/flaky/2"] == 3


def test_the_last_attempt_decides_when_attempts_run_out(api, engine, target):
    job = job_with(api, target, "/status/503", {**FAST, "maxAttempts": 2})
    engine.make_due(job["id"])
    engine.run_due()
    execution = deliver_until_done(engine, job["id"])[0]
    assert execution.status == "failed" and execution.attempt == 2 and len(execution.attempts) == 2
    assert execution.error["code"] == "HTTP_503" and len(target.requests) == 2


@pytest.mark.parametrize("path", ["/status/404", "/status/400", "/status/422"])
def test_other_4xx_are_not_retried(api, engine, target, path):
    job = job_with(api, target, path)
    engine.make_due(job["id"])
    engine.run_due()
    execution = engine.executions(job["id"])[0]
    assert execution.status == "failed" and execution.attempt == 1 and len(target.requests) == 1


def test_a_refused_url_is_not_retried(api, engine, target):
    app_id = api.make_app()["id"]
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"url": "http://${T:YYYY}.internal/x"})
    engine.make_due(job["id"])
    engine.run_due()
    execution = engine.executions(job["id"])[0]
    assert execution.status == "failed" and execution.error["code"] == "URL_NOT_ALLOWED"
    assert engine.receive() == []


def test_what_is_retried():
    assert all(retryable({"code": c}) for c in ("ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "ENOTFOUND",
                                                  "HTTP_429", "HTTP_500", "HTTP_503", "HTTP_599"))  # fmt: skip
    assert not any(retryable({"code": c}) for c in ("HTTP_400", "HTTP_404", "HTTP_409", "URL_NOT_ALLOWED",
                                                      "PARAM_ERROR", "TLS_ERROR", "TOO_MANY_REDIRECTS"))  # fmt: skip
    assert not retryable(None)


def test_backoff_is_exponential_with_full_jitter_and_capped():
    policy = RetryPolicy.model_validate({"maxAttempts": 10, "backoff": {"initialSeconds": 2, "maxSeconds": 20}})
    for attempt, cap in ((1, 2), (2, 4), (3, 8), (4, 16), (5, 20), (9, 20)):
        delays = {retry_delay(policy, attempt) for _ in range(200)}
        assert min(delays) >= 0 and max(delays) <= cap, (attempt, delays)
        assert len(delays) > 1  # jittered


def test_retry_after_is_honoured_within_max_seconds():
    policy = RetryPolicy.model_validate({"backoff": {"initialSeconds": 2, "maxSeconds": 60}})
    assert retry_delay(policy, 1, "30") == 30
    assert retry_delay(policy, 1, "3600") == 60
    assert 40 <= retry_delay(policy, 1, formatdate(time.time() + 45, usegmt=True)) <= 46
    assert 0 <= retry_delay(policy, 1, "soon") <= 2  # unreadable: ordinary backoff


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"maxAttempts": 0}, "retryPolicy.maxAttempts"),
        ({"maxAttempts": 11}, "retryPolicy.maxAttempts"),
        ({"backoff": {"initialSeconds": 10, "maxSeconds": 5}}, "retryPolicy.backoff"),
        ({"backoff": {"maxSeconds": 901}}, "retryPolicy.backoff.maxSeconds"),
        ({"tries": 3}, "retryPolicy.tries"),
    ],
)
def test_retry_policy_is_validated_naming_the_field(api, policy, field):
    app_id = api.make_app()["id"]
    body = {"applicationId": app_id, "name": "r", "pattern": "* * * * *",
            "taskConfig": {"endpoint": "https://api.example.com"}, "retryPolicy": policy}  # fmt: skip
    answer = api.post("/_/scheduler/jobs", body)
    assert answer.status == 400 and field in answer.error_fields(), answer.json


def test_defaults_are_shown(api):
    app_id = api.make_app()["id"]
    job = api.make_job(app_id)
    assert job["retryPolicy"] == {"maxAttempts": 3, "backoff": {"initialSeconds": 2, "maxSeconds": 300}}
    assert job["misfirePolicy"] == "fire_once" and job["concurrencyPolicy"] == "allow"
