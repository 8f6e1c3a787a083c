"""Generated junk in every field of a job: the API answers a 4xx naming a field, or stores a job whose run ends
in a finished state. Never a 5xx, never a run lost to a crash."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.conftest import YEARLY

JOBS = "/_/scheduler/jobs"
SPECIAL = ["", " ", "\n", "\r\n", "\x00", "\x7f", "\u2028", "\U0001f600", "é", "${T:YYYY}", "${T-1:YYYY-MM-DD}",
           "${T+9999:YYYY}", "${T:QQ}", "${HOST}", "${", "}", "http://127.0.0.1/", "http://169.254.169.254/",
           "/_/scheduler/jobs", "* * * * *", "*/5 * * * * *", "0 0 30 2 *", "UTC", "Europe/Berlin", "GET", "get",
           "POST", "HEAD", "bearer", "apiKey", "basic", "2030-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "Host",
           "Content-Length", "X-Api-Key", "authorization", "-1", "9" * 30]  # fmt: skip
text = st.sampled_from(SPECIAL) | st.text(max_size=24)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | text
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                    max_leaves=8)  # fmt: skip
token_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-ABCXYZ019", min_size=1, max_size=12)
plain_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16)
auths = st.one_of(
    st.builds(lambda t: {"authMethod": "bearer", "token": t}, text | plain_text),
    st.builds(lambda u, p: {"authMethod": "basic", "username": u, "password": p}, text, text),
    st.builds(lambda n, k: {"authMethod": "apiKey", "headerName": n, "key": k}, token_names | text, plain_text | text),
    junk,
)
# Per field: values a user might plausibly send (listed twice, so they come up more often) and junk.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "name": st.text(min_size=1, max_size=30),
    "description": st.none() | st.text(max_size=60),
    "enabled": st.booleans(),
    "pattern": st.sampled_from(["0 0 1 1 *", "*/5 * * * * *", "30 2 * * 1-5", "0 0 29 2 *", "0 2 * * sun"]),
    "runAt": st.sampled_from(["2031-01-01T00:00:00Z", "2031-06-01T12:00:00+02:00"]),
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Australia/Lord_Howe", "America/Havana"]),
    "taskType": st.just("HttpInvokerTask"),
    "misfirePolicy": st.sampled_from(["fire_once", "skip"]),
    "concurrencyPolicy": st.sampled_from(["allow", "forbid"]),
    "retryPolicy": st.builds(lambda n: {"maxAttempts": n}, st.integers(1, 2)),
    "applicationId": st.just(1),
    "taskConfig.path": st.sampled_from(
        ["/echo", "/echo?d=${T-1:YYYY-MM-DD}", "/status/404", "/status/500", "/redirect?to=/echo", "/garbage", "/loop"]
    )
    | plain_text,
    "taskConfig.method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    "taskConfig.body": junk,
    "taskConfig.headers": st.dictionaries(token_names, plain_text | text, max_size=3),
    "taskConfig.auth": auths,
    "taskConfig.timeout": st.integers(1000, 5000),
    "taskConfig.secretHeaders": st.lists(token_names, max_size=2),
    "taskConfig.url": st.none(),
    "taskConfig.endpoint": st.just("TARGET"),
}
choices = st.lists(st.sampled_from(sorted(PLAUSIBLE)), max_size=3, unique=True)


names = itertools.count()


def body_with(app_id: int, base: str, change: dict[str, Any]) -> dict[str, Any]:
    task = {"endpoint": base, "path": "/echo", **change.pop("taskConfig", {})}
    body = {"applicationId": app_id, "name": f"generated-{next(names)}", "pattern": YEARLY,
            "retryPolicy": {"maxAttempts": 1}, "taskConfig": task, **change}  # fmt: skip
    if "runAt" in change and "pattern" not in change:
        body.pop("pattern")
    if change.get("name") is not None and isinstance(change["name"], str):
        body["name"] = f"{change['name']}-{next(names)}"  # names are unique per application
    return body


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


@settings(max_examples=int(os.environ.get("GENERATED_JOBS", "100")))
@given(data=st.data())
def test_junk_in_any_field_is_a_4xx_naming_it_or_a_job_that_runs_to_the_end(api, engine, target, app_id, data):
    change: dict[str, Any] = {}
    for field in data.draw(choices):
        value = data.draw(PLAUSIBLE[field] | PLAUSIBLE[field] | junk, label=field)
        if value == "TARGET":
            value = target.base
        if field.startswith("taskConfig."):
            change.setdefault("taskConfig", {})[field.split(".", 1)[1]] = value
        else:
            change[field] = value
    body = body_with(app_id, target.base, change)
    answer = api.post(JOBS, body)
    assert answer.status < 500, (body, answer.body)
    event(f"answered {answer.status}")
    if answer.status != 201:
        assert 400 <= answer.status < 500
        error = answer.json["error"]
        assert error["code"] and error["message"]
        if error["code"] in ("VALIDATION_ERROR", "URL_NOT_ALLOWED"):
            assert error["details"] and all(detail["field"] for detail in error["details"]), error
        return
    job = answer.json
    assert api.get(f"{JOBS}/{job['id']}").status == 200
    if job["status"] == "scheduled" and job.get("pattern"):
        execution = engine.run_job(api, job)
    else:  # disabled or one-off: run it by hand
        triggered = api.post(f"{JOBS}/{job['id']}/trigger")
        assert triggered.status == 202, triggered.body
        assert engine.deliver(engine.receive()) == []
        execution = api.get(f"/_/scheduler/executions/{triggered.json['id']}").json
    assert execution["status"] in ("succeeded", "failed"), execution
    assert (execution.get("error") or {}).get("code") != "LOST"
    assert api.get(f"/_/scheduler/executions/{execution['id']}").status == 200
