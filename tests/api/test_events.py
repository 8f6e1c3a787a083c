"""Job changes are put on the EventBridge bus with secrets masked; a failed put never fails the request."""

from __future__ import annotations

import json

from chalicelib.settings import get_settings


def test_created_updated_deleted_events_carry_the_masked_job(api, bus_queue):
    app = api.make_app()
    job = api.make_job(
        app["id"],
        taskConfig={
            "endpoint": "https://api.example.com",
            "auth": {"authMethod": "basic", "username": "u", "password": "pw"},
            "headers": {"X-Api-Key": "k-123", "Accept": "text/plain"},
        },
    )
    api.put(f"/_/scheduler/jobs/{job['id']}", {"description": "d"})
    api.delete(f"/_/scheduler/jobs/{job['id']}")
    received = bus_queue()
    assert [event["detail-type"] for event in received] == [
        "scheduler.job.created",
        "scheduler.job.updated",
        "scheduler.job.deleted",
    ]
    detail = received[0]["detail"]["job"]
    assert detail["id"] == job["id"]
    assert detail["taskConfig"]["auth"]["password"] == "********"
    assert detail["taskConfig"]["headers"] == {"X-Api-Key": "********", "Accept": "text/plain"}
    assert "pw" not in json.dumps(received) and "k-123" not in json.dumps(received)


def test_a_failed_event_put_does_not_fail_the_request(api, settings_env):
    settings_env.setenv("EVENT_BUS_NAME", "no-such-bus")
    get_settings.cache_clear()
    app = api.make_app()
    assert (
        api.post(
            "/_/scheduler/jobs",
            {
                "applicationId": app["id"],
                "name": "x",
                "pattern": "* * * * *",
                "taskConfig": {"endpoint": "https://api.example.com"},
            },
        ).status
        == 201
    )
