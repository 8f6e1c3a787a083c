"""Application variables: managed per application, `${NAME}` in jobs resolved when each run starts, secret
values written once and never shown again (responses, run records, events, error messages)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.store import variables as variable_store
from tests.conftest import ONE_ATTEMPT, YEARLY

APPS = "/_/scheduler/applications"
JOBS = "/_/scheduler/jobs"
SECRET = "sk_live_variable_9f8e7d"


def variables(app_id: int) -> str:
    return f"{APPS}/{app_id}/variables"


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def put(api, app_id, name, value, secret=False):
    return api.put(f"{variables(app_id)}/{name}", {"value": value, "secret": secret})


def job_with(api, app_id, task, name="uses-variables"):
    return api.post(JOBS, {"applicationId": app_id, "name": name, "pattern": YEARLY, "taskConfig": task,
                           "retryPolicy": ONE_ATTEMPT})  # fmt: skip


# --- managing them ------------------------------------------------------------------------------------------


def test_a_variable_is_created_read_listed_replaced_and_deleted(api, app_id):
    created = put(api, app_id, "HOST", "crm.example.com")
    assert created.status == 200
    assert created.json["name"] == "HOST" and created.json["value"] == "crm.example.com"
    assert created.json["secret"] is False and created.json["updatedBy"] == "admin" and created.json["updatedAt"]
    assert put(api, app_id, "REGION", "eu").status == 200
    assert [v["name"] for v in api.get(variables(app_id)).json] == ["HOST", "REGION"]
    assert put(api, app_id, "HOST", "crm.staging.example.com").json["value"] == "crm.staging.example.com"
    assert api.get(f"{variables(app_id)}/HOST").json["value"] == "crm.staging.example.com"
    assert api.delete(f"{variables(app_id)}/HOST").status == 204
    assert api.get(f"{variables(app_id)}/HOST").status == 404
    assert api.delete(f"{variables(app_id)}/HOST").status == 404


def test_a_secret_value_is_never_shown_again(api, app_id):
    answers = [put(api, app_id, "API_KEY", SECRET, secret=True), api.get(f"{variables(app_id)}/API_KEY"),
               api.get(variables(app_id))]  # fmt: skip
    for answer in answers:
        assert answer.status == 200 and SECRET not in json.dumps(answer.json)
    assert answers[0].json["value"] == "********" and answers[2].json[0]["secret"] is True


@pytest.mark.parametrize("name", ["host", "1HOST", "HOST-NAME", "H" * 65, "HÖST", "_HOST"])
def test_a_name_outside_the_rule_is_refused_naming_it(api, app_id, name):
    answer = put(api, app_id, name, "x")
    assert answer.status == 400 and answer.error_fields() == ["name"]
    assert api.get(f"{variables(app_id)}/{name}").status == 404


@pytest.mark.parametrize("name", ["GATEWAY_URL", "JOB_NAME", "APPLICATION"])
def test_built_in_names_are_read_only(api, app_id, name):
    answer = put(api, app_id, name, "x")
    assert answer.status == 400 and answer.error_fields() == ["name"]


@pytest.mark.parametrize(
    "body",
    [{"value": "x" * 4097}, {"value": "a\nb"}, {"value": "a\x00b"}, {"value": 5}, {"value": None}, {},
     {"value": "x", "secret": "yes"}, {"value": "x", "other": 1}],
)  # fmt: skip
def test_a_value_outside_the_rules_is_refused_naming_the_field(api, app_id, body):
    answer = api.put(f"{variables(app_id)}/HOST", body)
    assert answer.status == 400 and answer.error_fields() and answer.error_fields()[0] in ("value", "secret", "other")


def test_an_application_holds_at_most_64_variables(api, app_id):
    for index in range(variable_store.MAX_PER_APPLICATION):
        assert put(api, app_id, f"V{index}", "x").status == 200
    assert put(api, app_id, "ONE_MORE", "x").status == 409
    assert put(api, app_id, "V0", "replaced").status == 200  # replacing is not adding


def test_other_tenants_get_404_and_members_manage_their_own(api, member, outsider):
    app_id = api.make_app()["id"]  # `member` may manage the demo application
    assert member.put(f"{variables(app_id)}/HOST", {"value": "a.example"}).status == 200
    assert member.get(f"{variables(app_id)}/HOST").json["updatedBy"] == "mia"
    for call in (lambda: outsider.get(variables(app_id)), lambda: outsider.get(f"{variables(app_id)}/HOST"),
                 lambda: outsider.put(f"{variables(app_id)}/HOST", {"value": "b"}),
                 lambda: outsider.delete(f"{variables(app_id)}/HOST")):  # fmt: skip
        assert call().status == 404
    assert api.get(f"{variables(app_id)}/HOST").json["value"] == "a.example"
    assert api.get(f"{variables(999_999)}").status == 404


# --- in jobs -----------------------------------------------------------------------------------------------


def test_a_host_variable_job_calls_the_allowed_target(api, engine, target, app_id):
    put(api, app_id, "HOST", f"127.0.0.1:{target.port}")
    job = job_with(api, app_id, {"endpoint": "http://${HOST}", "path": "/echo/${JOB_NAME}/${T:YYYY}"})
    assert job.status == 201, job.body
    run = engine.run_job(api, job.json)
    assert run["status"] == "succeeded"
    assert target.requests[-1]["path"].startswith("/echo/uses-variables/")
    snapshot = run["jobSnapshot"]
    assert snapshot["taskConfig"]["endpoint"] == "http://${HOST}"  # the variable as written, the time resolved
    assert snapshot["taskConfig"]["path"].startswith("/echo/${JOB_NAME}/20")
    assert snapshot["request"]["url"].startswith(f"http://127.0.0.1:{target.port}/echo/uses-variables/")


def test_the_next_run_sees_the_new_value(api, engine, target, app_id):
    put(api, app_id, "ENDPOINT_PATH", "/first")
    job = job_with(api, app_id, {"endpoint": target.base, "path": "/echo${ENDPOINT_PATH}"}).json
    engine.run_job(api, job)
    put(api, app_id, "ENDPOINT_PATH", "/second")
    engine.run_job(api, job)
    assert [request["path"] for request in target.requests[-2:]] == ["/echo/first", "/echo/second"]


@pytest.mark.parametrize("host", ["10.0.0.7", "169.254.169.254", "127.0.0.1:1", "localhost", "[::1]"])
def test_a_variable_pointing_at_a_private_address_is_refused_at_run_time(api, engine, target, app_id, host):
    put(api, app_id, "HOST", f"127.0.0.1:{target.port}")
    job = job_with(api, app_id, {"url": "http://${HOST}/ok"}).json
    put(api, app_id, "HOST", host)
    before = len(target.requests)
    run = engine.run_job(api, job)
    assert run["status"] == "failed" and run["error"]["code"] == "URL_NOT_ALLOWED"
    assert len(target.requests) == before


def test_a_job_referring_to_an_unknown_variable_is_refused_naming_field_and_variable(api, app_id):
    answer = job_with(api, app_id, {"url": "https://${HOST}/api"})
    assert answer.status == 400 and answer.error_fields() == ["taskConfig.url"] and "HOST" in json.dumps(answer.json)
    answer = job_with(api, app_id, {"url": "https://api.example.com/", "headers": {"X-Region": "${REGION}"}})
    assert answer.status == 400 and answer.error_fields() == ["taskConfig.headers.X-Region"]


def test_a_job_names_the_variables_it_uses_even_in_masked_places(api, app_id):
    put(api, app_id, "HOST", "api.example.com")
    put(api, app_id, "TOKEN", SECRET, secret=True)
    task = {"url": "https://${HOST}/a", "auth": {"authMethod": "bearer", "token": "${TOKEN}"}}
    job = job_with(api, app_id, task).json
    assert job["taskConfig"]["auth"]["token"] == "********"
    assert job["variables"] == ["HOST", "TOKEN"] == api.get(f"{JOBS}/{job['id']}").json["variables"]
    plain = job_with(api, app_id, {"url": "https://api.example.com/"}, name="plain").json
    assert "variables" not in plain


def test_a_variable_in_use_cannot_be_deleted_and_the_409_names_the_jobs(api, app_id):
    put(api, app_id, "HOST", "api.example.com")
    assert job_with(api, app_id, {"url": "https://${HOST}/a"}, name="sync-a").status == 201
    assert job_with(api, app_id, {"url": "https://${HOST}/b"}, name="sync-b").status == 201
    answer = api.delete(f"{variables(app_id)}/HOST")
    assert answer.status == 409 and "sync-a" in json.dumps(answer.json) and "sync-b" in json.dumps(answer.json)
    assert api.get(f"{variables(app_id)}/HOST").status == 200


def test_a_run_whose_variable_was_removed_fails_with_param_error_naming_it(api, engine, target, app_id):
    put(api, app_id, "HOST", f"127.0.0.1:{target.port}")
    job = job_with(api, app_id, {"url": "http://${HOST}/ok"}).json
    variable_store.delete(app_id, "HOST")  # as a store edit would: the API refuses while a job uses it
    run = engine.run_job(api, job)
    assert run["status"] == "failed" and run["error"]["code"] == "PARAM_ERROR" and "HOST" in run["error"]["message"]


def test_built_ins_resolve_to_the_gateway_the_job_and_the_application(api, engine, target, app_id):
    task = {"endpoint": target.base, "path": "/echo", "headers": {"X-Job": "${JOB_NAME}", "X-App": "${APPLICATION}",
                                                                  "X-Gateway": "${GATEWAY_URL}"}}  # fmt: skip
    run = engine.run_job(api, job_with(api, app_id, task).json)
    assert run["status"] == "succeeded"
    sent = {name.lower(): value for name, value in target.requests[-1]["headers"].items()}
    assert sent["x-job"] == "uses-variables" and sent["x-app"] == "demo" and sent["x-gateway"].startswith("http")


# --- secret values, everywhere a run leaves a trace -----------------------------------------------------------


def test_a_secret_variable_reaches_the_target_and_nothing_else(api, engine, target, app_id, bus_queue, log_lines):
    put(api, app_id, "API_KEY", SECRET, secret=True)
    put(api, app_id, "TOKEN", SECRET + "-bearer", secret=True)
    task = {"endpoint": target.base, "path": "/echo", "headers": {"X-Client": "${API_KEY}"},
            "auth": {"authMethod": "bearer", "token": "${TOKEN}"}, "method": "POST",
            "body": {"key": "${API_KEY}", "at": "${T:YYYY-MM-DD}"}}  # fmt: skip
    job = job_with(api, app_id, task).json
    run = engine.run_job(api, job)
    sent = target.requests[-1]
    assert {k.lower(): v for k, v in sent["headers"].items()}["x-client"] == SECRET
    assert {k.lower(): v for k, v in sent["headers"].items()}["authorization"] == f"Bearer {SECRET}-bearer"
    assert run["status"] == "succeeded" and run["jobSnapshot"]["taskConfig"]["body"]["key"] == "${API_KEY}"
    traces = [run, api.get(f"{JOBS}/{job['id']}").json, api.get(f"{JOBS}/{job['id']}/executions").json,
              bus_queue(), log_lines()]  # fmt: skip
    for trace in traces:
        text = trace if isinstance(trace, str) else json.dumps(trace)
        assert SECRET not in text


def test_a_secret_variable_in_the_url_is_masked_in_the_record(api, engine, target, app_id):
    put(api, app_id, "KEY", SECRET, secret=True)
    run = engine.run_job(api, job_with(api, app_id, {"url": f"{target.base}/echo?key=${{KEY}}"}).json)
    assert target.requests[-1]["path"].endswith(SECRET)
    assert run["jobSnapshot"]["request"]["url"].endswith("key=********") and SECRET not in json.dumps(run)


def test_a_failed_run_never_shows_a_secret_variable_in_its_error(api, engine, target, app_id):
    put(api, app_id, "HOST", SECRET + ".invalid", secret=True)  # a secret host that cannot resolve
    run = engine.run_job(api, job_with(api, app_id, {"url": "https://${HOST}/x"}).json)
    assert run["status"] == "failed" and SECRET not in json.dumps(run)


@settings(max_examples=25, deadline=None)
@given(value=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_any_value_is_stored_and_masked_or_refused_naming_value(api, value):
    app_id = api.get(f"{APPS}?limit=1").json[0]["id"] if api.get(f"{APPS}?limit=1").json else api.make_app()["id"]
    answer = put(api, app_id, "ANY", value, secret=True)
    assert answer.status in (200, 400)
    if answer.status == 200:
        assert answer.json["value"] == "********"
    else:
        assert answer.error_fields() == ["value"]
