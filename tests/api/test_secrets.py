"""Secrets are write-only: masked on every read, kept when a client sends the mask back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.store import jobs as job_store

SECRET_TASK: dict[str, Any] = {
    "endpoint": "https://api.example.com",
    "headers": {"Authorization": "Bearer abc", "Cookie": "s=1", "X-Session-Token": "t", "X-Trace": "keep"},
    "auth": {"authMethod": "apiKey", "headerName": "X-Key", "key": "k-secret"},
}


def test_secrets_are_masked_on_create_get_and_list(api):
    app = api.make_app()
    job = api.make_job(app["id"], taskConfig=SECRET_TASK)
    for shown in (job, api.get(f"/_/scheduler/jobs/{job['id']}").json, api.get("/_/scheduler/jobs").json[0]):
        config = shown["taskConfig"]
        assert config["auth"] == {"authMethod": "apiKey", "headerName": "X-Key", "key": "********"}
        assert config["headers"] == {
            "Authorization": "********",
            "Cookie": "********",
            "X-Session-Token": "********",
            "X-Trace": "keep",
        }
        assert "k-secret" not in json.dumps(shown) and "abc" not in json.dumps(shown)


def test_sending_the_mask_back_keeps_the_stored_secret(api):
    app = api.make_app()
    job = api.make_job(app["id"], taskConfig=SECRET_TASK)
    shown = api.get(f"/_/scheduler/jobs/{job['id']}").json["taskConfig"]
    shown["headers"]["X-Trace"] = "changed"
    answer = api.put(
        f"/_/scheduler/jobs/{job['id']}", {"taskConfig": {"headers": shown["headers"], "auth": shown["auth"]}}
    )
    assert answer.status == 200, answer.body
    stored = job_store.get(job["id"]).task_config
    assert stored["auth"]["key"] == "k-secret"
    assert stored["headers"] == {**SECRET_TASK["headers"], "X-Trace": "changed"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"auth": {"authMethod": "bearer", "token": "********"}}, "taskConfig.auth.token"),  # another method
        ({"auth": {"authMethod": "basic", "username": "u", "password": "********"}}, "taskConfig.auth.password"),
        ({"headers": {"X-New-Token": "********"}}, "taskConfig.headers.X-New-Token"),  # a header it did not have
    ],
)
def test_the_mask_where_no_stored_secret_matches_is_refused_not_stored(api, change, field):
    app = api.make_app()
    keyed = {"endpoint": "https://api.example.com", "auth": SECRET_TASK["auth"], "headers": {"X-Trace": "keep"}}
    job = api.make_job(app["id"], taskConfig=keyed)
    answer = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": change})
    assert answer.status == 400 and answer.error_fields() == [field]
    assert job_store.get(job["id"]).task_config["auth"]["key"] == "k-secret"  # unchanged
    created = api.post("/_/scheduler/jobs", {"applicationId": app["id"], "name": "masked", "pattern": "0 0 * * *",
                                             "taskConfig": {"url": "https://api.example.com/", **change}})  # fmt: skip
    assert created.status == 400 and created.error_fields() == [field]


def test_a_new_secret_replaces_the_old(api):
    app = api.make_app()
    job = api.make_job(app["id"], taskConfig=SECRET_TASK)
    new_auth = {"authMethod": "apiKey", "headerName": "X-Other-Key", "key": "fresh"}
    api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": {"auth": new_auth}})
    assert job_store.get(job["id"]).task_config["auth"] == new_auth


CREDENTIAL_NAMES = ["X-Auth", "Api-Auth", "X-Access-Token", "X-Jwt", "X-Bearer", "X-Otp", "X-Pin", "X-Pass", "X-Csrf",
                    "X-Client-Cert", "X-Auth-User", "X-Pwd", "X-Session", "X-Signature", "X-Credential", "X-Secret",
                    "Proxy-Authorization", "Set-Cookie", "X-Api-Key"]  # fmt: skip


def test_every_header_whose_name_suggests_a_credential_is_masked(api):
    app = api.make_app()
    headers = {name: f"v-{index}" for index, name in enumerate(CREDENTIAL_NAMES)}
    job = api.make_job(app["id"], taskConfig={"endpoint": "https://api.example.com", "headers": headers})
    for shown in (job, api.get(f"/_/scheduler/jobs/{job['id']}").json):
        assert shown["taskConfig"]["headers"] == dict.fromkeys(CREDENTIAL_NAMES, "********")


def test_a_job_marks_more_headers_secret_with_secret_headers(api, engine, target):
    app = api.make_app()
    task = {"endpoint": target.base, "path": "/echo", "headers": {"X-Tenant": "acme-42", "X-Trace": "t"},
            "secretHeaders": ["x-tenant"]}  # fmt: skip
    job = api.make_job(app["id"], pattern="0 0 1 1 *", taskConfig=task, retryPolicy={"maxAttempts": 1})
    assert job["taskConfig"]["headers"] == {"X-Tenant": "********", "X-Trace": "t"}
    assert job["taskConfig"]["secretHeaders"] == ["x-tenant"]
    execution = engine.run_job(api, job)
    assert execution["jobSnapshot"]["taskConfig"]["headers"]["X-Tenant"] == "********"
    assert target.requests[0]["headers"]["X-Tenant"] == "acme-42"  # the target still gets it
    assert "acme-42" not in json.dumps(api.get(f"/_/scheduler/executions/{execution['id']}").json)
