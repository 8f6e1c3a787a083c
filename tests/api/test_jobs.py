"""The jobs API: defaults, validation of the whole job, partial updates, ETags, deletes, enable/disable."""

from __future__ import annotations

import pytest

JOBS = "/_/scheduler/jobs"
TASK = {"endpoint": "https://api.example.com", "path": "/sync"}


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def job_body(app_id, **fields):
    return {"applicationId": app_id, "name": "nightly", "pattern": "0 2 * * *", "taskConfig": dict(TASK), **fields}


def test_create_applies_defaults_and_answers_location_and_etag(api, app_id):
    answer = api.post(
        JOBS,
        {
            "applicationId": app_id,
            "name": "hc",
            "pattern": "*/5 * * * *",
            "taskConfig": {"endpoint": "https://api.example.com"},
        },
    )
    assert answer.status == 201, answer.body
    job = answer.json
    assert job["taskType"] == "HttpInvokerTask"
    assert job["taskConfig"] == {"endpoint": "https://api.example.com", "path": "/", "method": "GET", "timeout": 30000,
                                 "sign": True}  # fmt: skip
    assert job["timezone"] == "UTC" and job["enabled"] is True and job["status"] == "scheduled"
    assert job["createdBy"] == job["updatedBy"] == "admin"
    assert job["nextRunAt"].endswith("Z") and job["nextRunAt"][14:16] in {
        "00",
        "05",
        "10",
        "15",
        "20",
        "25",
        "30",
        "35",
        "40",
        "45",
        "50",
        "55",
    }
    assert answer.headers["location"].endswith(f"{JOBS}/{job['id']}")
    assert answer.headers["etag"] == '"1"'
    assert 0 < job["id"] < 2**53


def test_next_run_is_read_in_the_job_time_zone(api, app_id):
    job = api.make_job(app_id, pattern="30 9 * * *", timezone="Asia/Kolkata")
    assert job["nextRunAt"][11:19] == "04:00:00"  # 09:30 IST is 04:00 UTC


def test_get_shows_the_next_five_slots_in_utc_and_in_the_job_time_zone(api, app_id):
    job = api.make_job(app_id, pattern="30 9 * * *", timezone="Asia/Kolkata")
    assert "upcoming" not in job  # only on GET /jobs/{id}
    shown = api.get(f"{JOBS}/{job['id']}").json
    upcoming = shown["upcoming"]
    assert len(upcoming) == 5 and upcoming[0]["at"] == shown["nextRunAt"]
    assert all(slot["at"][11:] == "04:00:00.000Z" and slot["local"][10:] == "T09:30:00+05:30" for slot in upcoming)
    days = [slot["local"][:10] for slot in upcoming]
    assert days == sorted(set(days)) and [slot["at"][:10] for slot in upcoming] == days
    assert all("upcoming" not in listed for listed in api.get(JOBS).json)


def test_upcoming_of_a_one_off_or_paused_job(api, app_id):
    body = {k: v for k, v in job_body(app_id, runAt="2099-03-04T05:06:07+02:00").items() if k != "pattern"}
    once = api.post(JOBS, body).json
    assert api.get(f"{JOBS}/{once['id']}").json["upcoming"] == [
        {"at": "2099-03-04T03:06:07.000Z", "local": "2099-03-04T03:06:07+00:00"}
    ]
    paused = api.make_job(app_id, name="paused", enabled=False)
    assert api.get(f"{JOBS}/{paused['id']}").json["upcoming"] == []


def test_disabled_job_is_paused_without_next_run(api, app_id):
    job = api.make_job(app_id, enabled=False)
    assert job["status"] == "paused" and job["nextRunAt"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pattern": "* * * *"}, "pattern"),
        ({"pattern": "60 * * * *"}, "pattern"),
        ({"pattern": "@reboot"}, "pattern"),
        ({"pattern": "0 0 30 2 *"}, "pattern"),
        ({"pattern": "0 0 L * *"}, "pattern"),
        ({"pattern": "* * * * * * *"}, "pattern"),
        ({"pattern": "60 * * * * *"}, "pattern"),
        ({"misfirePolicy": "burst"}, "misfirePolicy"),
        ({"pattern": None}, "pattern"),
        ({"runAt": "2099-01-01T00:00:00Z"}, "pattern"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"colour": "red"}, "colour"),
        ({"taskType": "ShellTask"}, "taskType"),
        ({"applicationId": "one"}, "applicationId"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "timeout": 999}}, "taskConfig.timeout"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "timeout": 900001}}, "taskConfig.timeout"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "method": "TRACE"}}, "taskConfig.method"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "body": {"a": 1}}}, "taskConfig"),
        ({"taskConfig": {"path": "/x"}}, "taskConfig"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "headers": {"Host": "evil"}}}, "taskConfig.headers.Host"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "headers": {"X": "a\r\nB: c"}}}, "taskConfig.headers.X"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "auth": {"authMethod": "digest"}}}, "taskConfig.auth"),
        (
            {"taskConfig": {"endpoint": "https://a.example.com", "auth": {"authMethod": "bearer"}}},
            "taskConfig.auth.token",
        ),
        ({"taskConfig": {"endpoint": "https://a.example.com", "wat": 1}}, "taskConfig.wat"),
        ({"taskConfig": {"endpoint": "https://a.example.com", "path": "/${T:QQ}"}}, "taskConfig.path"),
        (
            {"taskConfig": {"endpoint": "https://a.example.com", "body": {"d": "${HOST}"}, "method": "POST"}},
            "taskConfig.body.d",
        ),
    ],
)
def test_invalid_job_is_refused_naming_the_field(api, app_id, change, field):
    body = job_body(app_id, **change)
    body = {key: value for key, value in body.items() if value is not None}
    answer = api.post(JOBS, body)
    assert answer.status == 400, answer.body
    assert answer.json["error"]["code"] == "VALIDATION_ERROR"
    assert field in answer.error_fields(), answer.json


def test_run_at_in_the_past_is_refused(api, app_id):
    answer = api.post(JOBS, {**job_body(app_id), "pattern": None, "runAt": "2020-01-01T00:00:00Z"})
    assert answer.status == 400
    assert answer.error_fields() == ["runAt"]


def test_one_off_job_is_scheduled_at_run_at(api, app_id):
    body = {k: v for k, v in job_body(app_id, runAt="2099-03-04T05:06:07+02:00").items() if k != "pattern"}
    job = api.post(JOBS, body).json
    assert job["runAt"] == job["nextRunAt"] == "2099-03-04T03:06:07.000Z"
    assert job["status"] == "scheduled" and "pattern" not in job


def test_standard_crontab_semantics_are_kept(api, app_id):
    sunday = api.make_job(app_id, name="sun7", pattern="0 0 * * 7")
    named = api.make_job(app_id, name="named", pattern="0 9 * * MON-FRI")
    either = api.make_job(app_id, name="either", pattern="0 0 13 * FRI")
    assert sunday["status"] == named["status"] == either["status"] == "scheduled"


def test_duplicate_name_in_an_application_conflicts(api, app_id):
    api.make_job(app_id, name="nightly")
    answer = api.post(JOBS, job_body(app_id))
    assert answer.status == 409
    assert answer.json["error"]["code"] == "CONFLICT"
    other_app = api.make_app("other", "Other")["id"]
    assert api.post(JOBS, job_body(other_app)).status == 201


def test_get_unknown_or_malformed_id_is_404(api):
    for path in (f"{JOBS}/999", f"{JOBS}/abc", f"{JOBS}/99999999999999999999", f"{JOBS}/-1"):
        answer = api.get(path)
        assert answer.status == 404, path
        assert answer.json["error"]["code"] == "NOT_FOUND"


# --- partial update ----------------------------------------------------------------------------------


def test_put_replaces_fields_and_merges_task_config(api, app_id):
    job = api.make_job(app_id, description="old", taskConfig={**TASK, "headers": {"X-A": "1"}, "method": "POST"})
    answer = api.put(f"{JOBS}/{job['id']}", {"description": "new", "taskConfig": {"path": "/v2", "timeout": 5000}})
    assert answer.status == 200, answer.body
    updated = answer.json
    assert updated["description"] == "new"
    assert updated["taskConfig"] == {**TASK, "path": "/v2", "timeout": 5000, "method": "POST", "headers": {"X-A": "1"},
                                     "sign": True}  # fmt: skip
    assert updated["updatedAt"] >= job["updatedAt"] and answer.headers["etag"] == '"2"'


def test_put_null_removes_a_key(api, app_id):
    job = api.make_job(app_id, description="old", taskConfig={**TASK, "headers": {"X-A": "1"}})
    updated = api.put(f"{JOBS}/{job['id']}", {"description": None, "taskConfig": {"headers": None}}).json
    assert "description" not in updated
    assert "headers" not in updated["taskConfig"]


def test_put_validates_the_merged_job_as_a_whole(api, app_id):
    job = api.make_job(app_id)
    answer = api.put(f"{JOBS}/{job['id']}", {"taskConfig": {"url": "https://b.example.com/x"}})
    assert answer.status == 400
    assert "taskConfig" in answer.error_fields()
    switched = api.put(
        f"{JOBS}/{job['id']}", {"taskConfig": {"url": "https://b.example.com/x", "endpoint": None, "path": None}}
    )
    assert switched.status == 200, switched.body
    assert switched.json["taskConfig"]["url"] == "https://b.example.com/x"


def test_put_switches_between_pattern_and_run_at(api, app_id):
    job = api.make_job(app_id)
    answer = api.put(f"{JOBS}/{job['id']}", {"pattern": None, "runAt": "2099-01-01T00:00:00Z"})
    assert answer.status == 200, answer.body
    assert answer.json["nextRunAt"] == "2099-01-01T00:00:00.000Z"


def test_put_cannot_move_a_job_to_another_application(api, app_id):
    job = api.make_job(app_id)
    other = api.make_app("other", "Other")["id"]
    answer = api.put(f"{JOBS}/{job['id']}", {"applicationId": other})
    assert answer.status == 400 and answer.error_fields() == ["applicationId"]


def test_put_rename_frees_the_old_name_and_claims_the_new(api, app_id):
    first = api.make_job(app_id, name="a")
    api.make_job(app_id, name="b")
    assert api.put(f"{JOBS}/{first['id']}", {"name": "b"}).status == 409
    assert api.put(f"{JOBS}/{first['id']}", {"name": "c"}).status == 200
    assert api.post(JOBS, job_body(app_id, name="a")).status == 201
    assert api.post(JOBS, job_body(app_id, name="c")).status == 409


def test_if_match_guards_against_lost_updates(api, app_id):
    job = api.make_job(app_id)
    etag = api.get(f"{JOBS}/{job['id']}").headers["etag"]
    assert api.put(f"{JOBS}/{job['id']}", {"description": "a"}, headers={"If-Match": etag}).status == 200
    stale = api.put(f"{JOBS}/{job['id']}", {"description": "b"}, headers={"If-Match": etag})
    assert stale.status == 412 and stale.json["error"]["code"] == "PRECONDITION_FAILED"
    fresh = api.get(f"{JOBS}/{job['id']}").headers["etag"]
    assert api.put(f"{JOBS}/{job['id']}", {"description": "b"}, headers={"If-Match": f"W/{fresh}"}).status == 200
    assert api.put(f"{JOBS}/{job['id']}", {"description": "c"}, headers={"If-Match": "*"}).status == 200


def test_pattern_change_recomputes_next_run(api, app_id):
    job = api.make_job(app_id, pattern="0 2 * * *")
    updated = api.put(f"{JOBS}/{job['id']}", {"pattern": "15 3 * * *"}).json
    assert updated["nextRunAt"][11:16] == "03:15"


# --- delete, enable, disable ---------------------------------------------------------------------------


def test_delete_answers_204_then_404_and_frees_the_name(api, app_id):
    job = api.make_job(app_id, name="nightly")
    answer = api.delete(f"{JOBS}/{job['id']}")
    assert answer.status == 204 and answer.body == b""
    assert api.get(f"{JOBS}/{job['id']}").status == 404
    assert api.delete(f"{JOBS}/{job['id']}").status == 404
    assert api.post(JOBS, job_body(app_id)).status == 201


def test_enable_and_disable_are_idempotent(api, app_id):
    job = api.make_job(app_id)
    first = api.post(f"{JOBS}/{job['id']}/disable")
    assert first.status == 200 and first.json["status"] == "paused" and first.json["nextRunAt"] is None
    again = api.post(f"{JOBS}/{job['id']}/disable")
    assert again.status == 200 and again.headers["etag"] == first.headers["etag"]
    enabled = api.post(f"{JOBS}/{job['id']}/enable")
    assert enabled.json["status"] == "scheduled" and enabled.json["nextRunAt"] is not None
    assert api.post(f"{JOBS}/{job['id']}/enable").headers["etag"] == enabled.headers["etag"]
