"""Secrets are write-only: masked on every read, kept when a client sends the mask back."""

from __future__ import annotations

import json
from typing import Any

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
    stored = job_store.get(job["id"]).taskConfig
    assert stored["auth"]["key"] == "k-secret"
    assert stored["headers"] == {**SECRET_TASK["headers"], "X-Trace": "changed"}


def test_a_new_secret_replaces_the_old(api):
    app = api.make_app()
    job = api.make_job(app["id"], taskConfig=SECRET_TASK)
    new_auth = {"authMethod": "bearer", "token": "fresh"}
    api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": {"auth": new_auth}})
    assert job_store.get(job["id"]).taskConfig["auth"] == new_auth
