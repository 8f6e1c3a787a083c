"""Credentials never leave their origin: not on a redirect, not in an error message, not when a job moves."""

from __future__ import annotations

import json

import httpx
import pytest

from chalicelib.invoker import http
from chalicelib.settings import get_settings
from chalicelib.store import jobs as job_store
from tests.conftest import ONE_ATTEMPT, YEARLY, Target, store_spec

CREDENTIALS = {
    "X-Api-Key": "key-1",
    "Cookie": "sid=cookie-1",
    "Proxy-Authorization": "Basic cHJveHk6MQ==",
    "X-Auth": "auth-1",
    "X-Jwt": "jwt-1",
    "X-Otp": "otp-1",
    "X-Client-Cert": "cert-1",
    "X-Tenant": "tenant-1",  # secret only because the job lists it in secretHeaders
}
PLAIN = {"X-Trace": "trace-1"}
AUTHS = [
    {"authMethod": "apiKey", "headerName": "X-Partner", "key": "partner-key-1"},
    {"authMethod": "bearer", "token": "bearer-token-1"},
    {"authMethod": "basic", "username": "user-1", "password": "password-1"},
]


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


@pytest.fixture
def second(settings_env, target):
    other = Target()
    settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{target.port},127.0.0.1:{other.port}")
    yield other
    other.close()


def secret_job(api, app_id, endpoint, path, auth):
    config = {"endpoint": endpoint, "path": path, "headers": {**CREDENTIALS, **PLAIN}, "secretHeaders": ["x-tenant"],
              "auth": auth}  # fmt: skip
    return api.make_job(app_id, pattern=YEARLY, taskConfig=config, retryPolicy=ONE_ATTEMPT)


def sent_secrets(headers: dict[str, str], auth: dict[str, str]) -> list[str]:
    names = {name.lower() for name in headers}
    leaked = [name for name in CREDENTIALS if name.lower() in names]
    auth_header = auth.get("headerName", "Authorization").lower()
    return leaked + (["auth"] if auth_header in names else [])


@pytest.mark.parametrize("auth", AUTHS, ids=[auth["authMethod"] for auth in AUTHS])
def test_a_redirect_to_another_port_carries_no_credential(api, engine, target, second, app_id, auth):
    job = secret_job(api, app_id, target.base, f"/redirect?to={second.base}/echo", auth)
    execution = engine.run_job(api, job)
    assert execution["status"] == "succeeded", execution
    assert sent_secrets(target.requests[0]["headers"], auth) == [*CREDENTIALS, "auth"]  # the first origin gets all
    received = second.requests[0]["headers"]
    assert sent_secrets(received, auth) == [] and received["X-Trace"] == "trace-1"


@pytest.mark.parametrize("auth", AUTHS, ids=[auth["authMethod"] for auth in AUTHS])
def test_a_redirect_to_another_host_name_carries_no_credential(api, engine, target, app_id, auth):
    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    endpoint = f"http://first.example.com:{target.port}"
    job = secret_job(api, app_id, endpoint, f"/redirect?to=http://second.example.com:{target.port}/echo", auth)
    execution = engine.run_job(api, job, resolver)
    assert execution["status"] == "succeeded", execution
    first, then = target.requests[0]["headers"], target.requests[1]["headers"]
    assert first["Host"].startswith("first.") and then["Host"].startswith("second.")
    assert sent_secrets(first, auth) == [*CREDENTIALS, "auth"]
    assert sent_secrets(then, auth) == [] and then["X-Trace"] == "trace-1"


def test_a_same_origin_redirect_keeps_every_header(api, engine, target, app_id):
    auth = AUTHS[0]
    job = secret_job(api, app_id, target.base, "/redirect?to=/echo", auth)
    assert engine.run_job(api, job)["status"] == "succeeded"
    assert sent_secrets(target.requests[1]["headers"], auth) == [*CREDENTIALS, "auth"]


def test_a_redirect_to_another_scheme_is_another_origin():
    request = httpx.Request("GET", "http://api.example.com/start", headers={"X-Api-Key": "k", "X-Trace": "t"})
    answer = httpx.Response(302, headers={"Location": "https://api.example.com/start"})
    hop = http._next_hop(request, answer, frozenset({"authorization"}))
    assert "x-api-key" not in hop.headers and hop.headers["x-trace"] == "t"
    default_port = httpx.Response(302, headers={"Location": "http://api.example.com:80/next"})
    assert "x-api-key" in http._next_hop(request, default_port, frozenset()).headers  # :80 is the same origin


# --- error messages ------------------------------------------------------------------------------------

BAD_CHARACTERS = ["\n", "\r", "\r\n", "\x00", "\x7f", "\x1b", "\u2028", "\u00e9", "\U0001f600", " ", "\t"]


def stored_job(api, app_id, target, config, name):
    """A job whose configuration was stored before today's input rules (written to the store directly)."""
    job = api.make_job(app_id, name=name, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/echo"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    store_spec(job["id"], taskConfig={"endpoint": target.base, "path": "/echo", **config})
    return job


def secret_configs(secret: str) -> list[tuple[str, dict]]:
    return [
        ("taskConfig.auth.token", {"auth": {"authMethod": "bearer", "token": secret}}),
        ("taskConfig.auth.key", {"auth": {"authMethod": "apiKey", "headerName": "X-Key", "key": secret}}),
        ("taskConfig.auth.password", {"auth": {"authMethod": "basic", "username": "u", "password": secret}}),
        ("taskConfig.auth.username", {"auth": {"authMethod": "basic", "username": secret, "password": "p"}}),
        ("taskConfig.headers.X-Session", {"headers": {"X-Session": secret}}),
        ("taskConfig.headers.X-Plain", {"headers": {"X-Plain": secret}}),
    ]


@pytest.mark.parametrize("bad", BAD_CHARACTERS, ids=[repr(bad) for bad in BAD_CHARACTERS])
def test_every_credential_field_with_a_bad_character_is_refused_at_create_without_echoing_it(api, app_id, bad):
    secret = f"sk_live_{bad}secret" if bad not in (" ", "\t") else f"sk_live_secret{bad}"
    for field, config in secret_configs(secret):
        if (field.endswith("username") or field.endswith("password")) and bad in (" ", "\u00e9", "\U0001f600"):
            continue  # sent base64-encoded: spaces and any Unicode text are fine there
        body = {"applicationId": app_id, "name": "bad", "pattern": YEARLY,
                "taskConfig": {"endpoint": "https://api.example.com", **config}}  # fmt: skip
        answer = api.post("/_/scheduler/jobs", body)
        assert answer.status == 400, (field, answer.body)
        assert answer.error_fields() == [field], answer.json
        assert "sk_live" not in answer.body.decode(), answer.body


@pytest.mark.parametrize("bad", BAD_CHARACTERS, ids=[repr(bad) for bad in BAD_CHARACTERS])
def test_a_run_never_stores_or_publishes_a_secret_in_its_error(api, engine, target, app_id, bus_queue, bad):
    secret = f"sk_live_{bad}abcdef"
    failed = 0
    for field, config in secret_configs(secret):
        job = stored_job(api, app_id, target, config, name=field)
        execution = engine.run_job(api, job)
        assert execution["status"] in ("succeeded", "failed"), (field, execution)
        error = json.dumps(api.get(f"/_/scheduler/executions/{execution['id']}").json.get("error"))
        assert "sk_live" not in error and "abcdef" not in error, (field, error)
        failed += execution["status"] == "failed"
    if bad in ("\n", "\r", "\r\n", "\x00", "\u2028", "\u00e9", "\U0001f600"):  # what HTTP clients refuse to send
        assert failed >= 4  # the token, key and both headers cannot be sent: their runs end with an error
    published = [event["detail"]["execution"].get("error") for event in bus_queue() if "execution" in event["detail"]]
    assert published and "abcdef" not in json.dumps(published)


# --- a job that moves takes no credentials along ---------------------------------------------------------


def test_moving_a_job_to_another_host_drops_its_credentials_and_says_which(api, engine, target, second, app_id):
    auth = AUTHS[0]
    job = secret_job(api, app_id, target.base, "/echo", auth)
    answer = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": {"endpoint": second.base}})
    assert answer.status == 200, answer.body
    dropped = answer.json["droppedCredentials"]
    assert "taskConfig.auth" in dropped
    assert sorted(dropped) == sorted(["taskConfig.auth", *(f"taskConfig.headers.{name}" for name in CREDENTIALS)])
    assert "auth" not in answer.json["taskConfig"] and answer.json["taskConfig"]["headers"] == PLAIN
    execution = engine.run_job(api, {"id": job["id"]})
    assert execution["status"] == "succeeded"
    assert sent_secrets(second.requests[0]["headers"], auth) == []
    assert "key-1" not in json.dumps(execution["result"])  # an echoing target has nothing to hand back


def test_moving_a_job_keeps_the_credentials_the_same_request_supplies_again(api, target, second, app_id):
    job = secret_job(api, app_id, target.base, "/echo", AUTHS[1])
    fresh = {"endpoint": second.base, "auth": {"authMethod": "bearer", "token": "new-token"},
             "headers": {"X-Api-Key": "new-key", "Cookie": "********", "X-Trace": "t"}}  # fmt: skip
    answer = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": fresh})
    assert answer.status == 200, answer.body
    assert answer.json["droppedCredentials"] == ["taskConfig.headers.Cookie"]  # the mask is not a credential
    stored = job_store.get(job["id"]).task_config
    assert stored["auth"]["token"] == "new-token" and stored["headers"] == {"X-Api-Key": "new-key", "X-Trace": "t"}


@pytest.mark.parametrize(
    "change",
    [
        {"path": "/elsewhere"},
        {"timeout": 5000},
        {"headers": {**dict.fromkeys(CREDENTIALS, "********"), "X-Trace": "t2"}},
    ],
)
def test_a_change_on_the_same_origin_keeps_every_credential(api, target, app_id, change):
    job = secret_job(api, app_id, target.base, "/echo", AUTHS[2])
    answer = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": change})
    assert answer.status == 200 and "droppedCredentials" not in answer.json
    stored = job_store.get(job["id"]).task_config
    assert stored["auth"]["password"] == "password-1"
    assert all(stored["headers"][name] == value for name, value in CREDENTIALS.items())


@pytest.mark.parametrize(
    "move",
    [
        lambda base: {"endpoint": base.replace("127.0.0.1", "localhost.example.com")},  # host
        lambda base: {"endpoint": base.replace("http://", "https://")},  # scheme
        lambda base: {"endpoint": base.rsplit(":", 1)[0] + ":1"},  # port
        lambda base: {"endpoint": None, "path": None, "url": base.rsplit(":", 1)[0] + ":2/x"},  # endpoint to url
    ],
    ids=["host", "scheme", "port", "url"],
)
def test_every_kind_of_origin_change_drops_credentials(api, target, app_id, settings_env, move):
    settings_env.setenv("ALLOWED_TARGET_HOSTS", "127.0.0.1,localhost.example.com")
    job = secret_job(api, app_id, target.base, "/echo", AUTHS[0])
    answer = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": move(target.base)})
    assert answer.status == 200, answer.body
    assert "taskConfig.auth" in answer.json["droppedCredentials"]
    assert "auth" not in job_store.get(job["id"]).task_config
    get_settings.cache_clear()
