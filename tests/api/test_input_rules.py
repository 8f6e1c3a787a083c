"""Every input is refused at the door: a 400 naming the field (or 401/405), never a stored job that crashes a run,
never a 500. Each rule is tested over a class of inputs, not one string."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.contracts.headers import HEADER_NAME
from tests.conftest import token

JOBS = "/_/scheduler/jobs"
TOKEN_CHARS = "!#$%&'*+.^_`|~-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def job(app_id, **task):
    return {"applicationId": app_id, "name": "j", "pattern": "0 2 * * *",
            "taskConfig": {"endpoint": "https://api.example.com", **task}}  # fmt: skip


def refused(answer, field):
    assert answer.status == 400, answer.body
    assert field in answer.error_fields(), answer.json
    return answer


# --- headers and credentials ------------------------------------------------------------------------------

bad_names = st.text(min_size=1, max_size=40).filter(lambda name: not HEADER_NAME.fullmatch(name))
unsendable = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"]) | st.characters(min_codepoint=0x80)
bad_values = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(alphabet=TOKEN_CHARS, max_size=10),
    st.text(alphabet=unsendable, min_size=1, max_size=3),
    st.text(alphabet=TOKEN_CHARS, max_size=10),
)


@given(name=bad_names)
def test_header_names_outside_the_http_token_grammar_are_refused(api, app_id, name):
    refused(api.post(JOBS, job(app_id, headers={name: "v"})), f"taskConfig.headers.{name}")


@pytest.mark.parametrize("name", ["X-A\n", "X-A\r\n", "X-A\x00", "X A", "X-A:", "", "x" * 257])
def test_a_header_name_with_a_trailing_newline_is_refused(api, app_id, name):
    refused(api.post(JOBS, job(app_id, headers={name: "v"})), f"taskConfig.headers.{name}")


@given(value=bad_values)
def test_header_values_that_http_cannot_carry_are_refused_without_being_echoed(api, app_id, value):
    secret = "zq" + value
    answer = refused(api.post(JOBS, job(app_id, headers={"X-Thing": secret})), "taskConfig.headers.X-Thing")
    assert secret not in answer.body.decode("unicode_escape", "replace")


@given(value=bad_values)
def test_tokens_and_keys_that_http_cannot_carry_are_refused(api, app_id, value):
    bearer = {"authMethod": "bearer", "token": "t" + value}
    refused(api.post(JOBS, job(app_id, auth=bearer)), "taskConfig.auth.token")
    api_key = {"authMethod": "apiKey", "headerName": "X-Key", "key": "k" + value}
    refused(api.post(JOBS, job(app_id, auth=api_key)), "taskConfig.auth.key")


@given(bad=st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=2))
def test_user_names_and_passwords_with_control_characters_are_refused(api, app_id, bad):
    refused(api.post(JOBS, job(app_id, auth={"authMethod": "basic", "username": "u" + bad, "password": "p"})),
            "taskConfig.auth.username")  # fmt: skip
    refused(api.post(JOBS, job(app_id, auth={"authMethod": "basic", "username": "u", "password": bad + "p"})),
            "taskConfig.auth.password")  # fmt: skip


def test_a_basic_user_name_cannot_hold_the_colon_that_ends_it(api, app_id):
    refused(api.post(JOBS, job(app_id, auth={"authMethod": "basic", "username": "a:b", "password": "p"})),
            "taskConfig.auth.username")  # fmt: skip


@pytest.mark.parametrize("name", ["Host", "transfer-encoding", "Content-Length", "CONNECTION", "TE", "Upgrade",
                                  "Keep-Alive", "Expect", "X-A\n"])  # fmt: skip
def test_an_api_key_header_obeys_the_same_rules_as_headers(api, app_id, name):
    auth = {"authMethod": "apiKey", "headerName": name, "key": "k"}
    refused(api.post(JOBS, job(app_id, auth=auth)), "taskConfig.auth.headerName")
    refused(api.post(JOBS, job(app_id, headers={name: "v"})), f"taskConfig.headers.{name}")


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"headers": {"X-Api-Key": "a", "x-api-key": "b"}}, "taskConfig.headers.x-api-key"),
        ({"headers": {"authorization": "Bearer a"}, "auth": {"authMethod": "bearer", "token": "b"}},
         "taskConfig.headers.authorization"),
        ({"headers": {"Authorization": "Basic a"}, "auth": {"authMethod": "basic", "username": "u", "password": "p"}},
         "taskConfig.headers.Authorization"),
        ({"headers": {"x-key": "a"}, "auth": {"authMethod": "apiKey", "headerName": "X-Key", "key": "b"}},
         "taskConfig.headers.x-key"),
    ],
)  # fmt: skip
def test_a_header_sent_twice_is_refused(api, app_id, task, field):
    refused(api.post(JOBS, job(app_id, **task)), field)


# --- JSON that is not JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("where", ["body.value", "body.items[1]", "timeout"])
def test_non_finite_numbers_are_refused_naming_where_they_stand(api, app_id, constant, where):
    body = job(app_id, method="POST", body={"value": 1, "items": [1, 2]})
    text = json.dumps(body)
    if where == "body.value":
        text = text.replace('"value": 1', f'"value": {constant}')
    elif where == "body.items[1]":
        text = text.replace("[1, 2]", f"[1, {constant}]")
    else:
        text = text.replace('"method"', f'"timeout": {constant}, "method"')
    answer = api.post(JOBS, raw=text.encode())
    assert answer.status == 400, answer.body
    assert answer.json["error"]["code"] in ("INVALID_JSON", "VALIDATION_ERROR")
    assert answer.error_fields() == [f"taskConfig.{where}"], answer.json
    assert api.get(JOBS).json == []


def test_a_stored_body_is_always_standard_json(api, app_id):
    created = api.post(JOBS, job(app_id, method="POST", body={"big": 1e308, "small": -1e-308}))
    assert created.status == 201
    assert "NaN" not in api.get(f"{JOBS}/{created.json['id']}").body.decode()


BODIES = {
    "POST /_/scheduler/jobs": None,
    "POST /_/scheduler/jobs/schedule": None,
    "PUT /_/scheduler/jobs/1": None,
    "POST /_/scheduler/applications": None,
    "POST /_/scheduler/cron/preview": None,
    "POST /_/scheduler/session": None,
}


@pytest.mark.parametrize("route", list(BODIES))
@pytest.mark.parametrize(
    ("opener", "depth"), [("[", 40), ("[", 1_000), ("[", 100_000), ('{"a":', 40), ('{"a":', 40_000)]
)  # all under the 256 KB body limit
def test_deeply_nested_json_is_a_400_on_every_endpoint(api, app_id, route, depth, opener):
    method, path = route.split(" ")
    api.make_job(app_id, name="present")
    document = ('{"x":' + opener * depth).encode()
    for caller in (api, api.as_user(None)):
        answer = caller.request(method, path, raw=document)
        assert answer.status in (400, 401), answer.body
        if answer.status == 400:
            assert answer.json["error"]["code"] == "INVALID_JSON", answer.json
    closed = ('{"x":' + opener * depth + ("1" + "]" * depth if opener == "[" else "1" + "}" * depth) + "}").encode()
    answer = api.request(method, path, raw=closed)
    assert answer.status == 400 and answer.json["error"]["code"] == "INVALID_JSON", answer.body


# --- strict types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"taskConfig": {"endpoint": "https://a.example.com", "timeout": "5000"}}, "taskConfig.timeout"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "timeout": 5000.5}}, "taskConfig.timeout"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "timeout": True}}, "taskConfig.timeout"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "method": "get"}}, "taskConfig.method"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"applicationId": "1"}, "applicationId"),
        ({"pattern": None, "runAt": 4102444800}, "runAt"),
        ({"pattern": None, "runAt": "4102444800"}, "runAt"),
        ({"retryPolicy": {"maxAttempts": "3"}}, "retryPolicy.maxAttempts"),
        ({"retryPolicy": {"backoff": {"initialSeconds": 2.0}}}, "retryPolicy.backoff.initialSeconds"),
        ({"description": 5}, "description"),
        (
            {"taskConfig": {"endpoint": "https://a.example.com", "headers": {"X-Count": 5}}},
            "taskConfig.headers.X-Count",
        ),
    ],
)
def test_values_of_the_wrong_type_are_refused_not_coerced(api, app_id, change, field):
    body = {"applicationId": app_id, "name": "typed", "pattern": "0 2 * * *",
            "taskConfig": {"endpoint": "https://a.example.com"}, **change}  # fmt: skip
    refused(api.post(JOBS, {key: value for key, value in body.items() if value is not None}), field)


def test_an_update_is_as_strict_as_a_create(api, app_id):
    created = api.make_job(app_id)
    refused(api.put(f"{JOBS}/{created['id']}", {"enabled": "no"}), "enabled")
    refused(api.put(f"{JOBS}/{created['id']}", {"taskConfig": {"timeout": "9000"}}), "taskConfig.timeout")


def test_a_one_off_run_at_must_be_an_iso_string(api, app_id):
    body = {
        "applicationId": app_id,
        "name": "once",
        "runAt": 4102444800,
        "taskConfig": {"url": "https://a.example.com"},
    }
    refused(api.post(f"{JOBS}/schedule", body), "runAt")


# --- methods ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW", "TRACK"])
@pytest.mark.parametrize("path", ["/_/scheduler/jobs", "/_/scheduler/health", "/_/scheduler/jobs/1"])
def test_a_method_the_api_does_not_serve_is_405_with_allow(live, method, path):
    with httpx.Client() as client:
        answer = client.request(method, live.url(path))
    assert answer.status_code == 405, answer.text
    assert answer.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in answer.headers["allow"]


@pytest.mark.parametrize(("method", "path"), [("PATCH", "/_/scheduler/jobs/1"), ("DELETE", "/_/scheduler/jobs"),
                                             ("PUT", "/_/scheduler/health")])  # fmt: skip
def test_a_known_method_on_a_path_that_does_not_serve_it_is_405_in_the_error_shape(api, method, path):
    answer = api.request(method, path)
    assert answer.status == 405 and answer.json["error"]["code"] == "METHOD_NOT_ALLOWED", answer.body
    assert answer.headers["allow"]


# --- tokens --------------------------------------------------------------------------------------------------


def signed(**claims) -> str:
    base = {"sub": "admin", "roles": ["scheduler:admin"], "exp": int(time.time()) + 600}
    return jwt.encode({**base, **claims}, "test-secret-0123456789abcdef0123456789")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "4102444800"},
        {"exp": "9999999999"},
        {"exp": 1e20},
        {"exp": 253402300800},  # the first second of year 10000
        {"exp": True},
        {"exp": [1]},
        {"nbf": "0"},
        {"nbf": 1e20},
        {"iat": "now"},
        {"iat": -5},
    ],
    ids=lambda claims: json.dumps(claims),
)
def test_time_claims_must_be_numbers_within_the_calendar(api, claims):
    bad = signed(**claims)
    assert api.as_user(bad).get(JOBS).status == 401
    session = api.as_user(None).post("/_/scheduler/session", {"token": bad})
    assert session.status == 401, session.body


def test_a_token_with_a_numeric_exp_is_accepted(api):
    assert api.as_user(signed()).get(JOBS).status == 200
    assert api.as_user(token("admin", admin=True)).get(JOBS).status == 200
