"""Tenancy and abuse: replays stay within a tenant, a job cannot drive this API in a loop, and engine figures are
for admins. (The service's refusal to start with a guessable secret: tests/test_settings.py.)"""

from __future__ import annotations

import time

import pytest

from tests.conftest import ONE_ATTEMPT, YEARLY, token

JOBS = "/_/scheduler/jobs"


def job_body(app_id: int, name: str = "j", **task) -> dict:
    return {"applicationId": app_id, "name": name, "pattern": "0 2 * * *",
            "taskConfig": {"endpoint": "https://api.example.com", **task}}  # fmt: skip


@pytest.fixture
def tenants(api):
    return api.make_app("alpha", "Alpha")["id"], api.make_app("beta", "Beta")["id"]


# --- Idempotency-Key ----------------------------------------------------------------------------------------


def test_a_create_replay_is_never_handed_to_a_token_that_may_not_see_its_application(api, tenants):
    _alpha, beta = tenants
    both = api.as_user(token("mia", apps=["alpha", "beta"]))
    first = both.post(JOBS, job_body(beta, "b-job"), headers={"Idempotency-Key": "k1"})
    assert first.status == 201
    alpha_only = api.as_user(token("mia", apps=["alpha"]))  # same sub, narrower token
    replay = alpha_only.post(JOBS, job_body(beta, "b-job"), headers={"Idempotency-Key": "k1"})
    assert replay.status == 403 and "b-job" not in replay.body.decode()
    assert "idempotent-replayed" not in replay.headers


def test_a_trigger_replay_is_never_handed_to_a_token_that_may_not_see_the_job(api, tenants):
    _, beta = tenants
    job = api.make_job(beta)
    beta_user = api.as_user(token("mia", apps=["beta"]))
    first = beta_user.post(f"{JOBS}/{job['id']}/trigger", headers={"Idempotency-Key": "t1"})
    assert first.status == 202
    alpha_user = api.as_user(token("mia", apps=["alpha"]))
    replay = alpha_user.post(f"{JOBS}/{job['id']}/trigger", headers={"Idempotency-Key": "t1"})
    assert replay.status == 404 and str(first.json["id"]) not in replay.body.decode()


def test_one_key_in_two_applications_is_two_requests(api, tenants):
    alpha, beta = tenants
    user = api.as_user(token("mia", apps=["alpha", "beta"]))
    assert user.post(JOBS, job_body(alpha, "a"), headers={"Idempotency-Key": "same"}).status == 201
    second = user.post(JOBS, job_body(beta, "b"), headers={"Idempotency-Key": "same"})
    assert second.status == 201 and "idempotent-replayed" not in second.headers


# --- manual triggers are rate limited -----------------------------------------------------------------------


def away_from_a_minute_boundary() -> None:
    """The limits count per calendar minute: start a burst early in one."""
    second = time.time() % 60
    if second > 50:
        time.sleep(61 - second)


def test_the_eleventh_manual_run_of_a_job_in_a_minute_is_429_with_retry_after(api, tenants):
    job = api.make_job(tenants[0])
    away_from_a_minute_boundary()
    statuses = [api.post(f"{JOBS}/{job['id']}/trigger").status for _ in range(10)]
    assert statuses == [202] * 10
    eleventh = api.post(f"{JOBS}/{job['id']}/trigger")
    assert eleventh.status == 429 and eleventh.json["error"]["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(eleventh.headers["retry-after"]) <= 60
    other = api.make_job(tenants[0], name="other")
    assert api.post(f"{JOBS}/{other['id']}/trigger").status == 202  # the limit is per job


def test_an_application_has_its_own_limit_across_its_jobs(api, tenants, settings_env):
    settings_env.setenv("TRIGGER_LIMIT_PER_APPLICATION", "4")
    jobs = [api.make_job(tenants[0], name=f"j{index}")["id"] for index in range(3)]
    away_from_a_minute_boundary()
    statuses = [api.post(f"{JOBS}/{job_id}/trigger").status for job_id in jobs + jobs]
    assert statuses == [202] * 4 + [429] * 2
    beta_job = api.make_job(tenants[1], name="beta-job")
    assert api.post(f"{JOBS}/{beta_job['id']}/trigger").status == 202  # another application's budget


# --- this API is no target of its own jobs --------------------------------------------------------------------

GATEWAY = "http://127.0.0.1:8000"  # GATEWAY_URL in the tests


@pytest.mark.parametrize(
    "path",
    [
        "/_/scheduler/jobs/1/trigger",
        "/_/scheduler/jobs",
        "//_/scheduler/jobs",
        "/_/Scheduler/Jobs",
        "/_%2Fscheduler/jobs",
        "/%5F/scheduler/jobs",
        "/%255F/scheduler/jobs",
        "/x/../_/scheduler/applications",
        "/_/scheduler/health/../jobs/1/trigger",
        "/_/scheduler/session",
        "/_/scheduler/ui",
    ],
)
def test_the_schedulers_own_api_is_refused_as_a_target(api, tenants, path):
    for task in ({"url": GATEWAY + path}, {"endpoint": GATEWAY, "path": path}):
        for method in ("GET", "POST"):
            body = {**job_body(tenants[0]), "taskConfig": {**task, "method": method}}
            answer = api.post(JOBS, body)
            assert answer.status == 400, (path, answer.body)
            assert answer.json["error"]["code"] == "URL_NOT_ALLOWED"


def test_the_health_check_is_the_one_api_path_a_job_may_call(api, tenants):
    ok = api.post(JOBS, {**job_body(tenants[0]), "taskConfig": {"url": f"{GATEWAY}/_/scheduler/health"}})
    assert ok.status == 201
    post = {"taskConfig": {"url": f"{GATEWAY}/_/scheduler/health", "method": "POST", "body": {}}}
    assert api.post(JOBS, {**job_body(tenants[0], name="post"), **post}).status == 400


def test_a_redirect_into_the_api_is_refused_at_run_time(api, engine, target, tenants):
    location = f"{GATEWAY}/_/scheduler/jobs/1/trigger"
    job = api.make_job(tenants[0], pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": f"/redirect?to={location}", "method": "POST",
                                   "body": {}})  # fmt: skip
    execution = engine.run_job(api, job)
    assert execution["status"] == "failed" and execution["error"]["code"] == "URL_NOT_ALLOWED"
    assert len(target.requests) == 1


# --- engine figures are for admins -------------------------------------------------------------------------


def test_engine_figures_in_stats_are_shown_to_admins_only(api, engine, tenants):
    engine.tick()
    admin = api.get("/_/scheduler/stats").json["engine"]
    assert admin["lastTickAt"] is not None and admin["lastTickDispatched"] is not None
    member = api.as_user(token("mia", apps=["alpha"])).get("/_/scheduler/stats")
    assert member.status == 200
    engine_part = member.json["engine"]
    assert engine_part["lastTickAt"] is None and engine_part["lastTickDurationMs"] is None
    assert engine_part["lastTickDispatched"] is None
