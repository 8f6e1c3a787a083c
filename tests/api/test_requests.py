"""Bad requests always get a clear 4xx in the one error shape; lists paginate by id."""

from __future__ import annotations

import concurrent.futures
import json

import httpx
import pytest

from tests.conftest import token

JOBS = "/_/scheduler/jobs"


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


def body(app_id, name="j", **extra):
    return {
        "applicationId": app_id,
        "name": name,
        "pattern": "* * * * *",
        "taskConfig": {"endpoint": "https://api.example.com"},
        **extra,
    }


def error_code(answer) -> str:
    assert set(answer.json) == {"error"} and set(answer.json["error"]) == {"code", "message", "details"}
    return answer.json["error"]["code"]


def test_invalid_json_is_400(api, app_id):
    answer = api.post(JOBS, raw=b'{"name": ')
    assert answer.status == 400 and error_code(answer) == "INVALID_JSON"
    assert error_code(api.post(JOBS, raw=b"")) == "INVALID_JSON"


def test_non_object_body_is_400(api, app_id):
    answer = api.post(JOBS, raw=b"[1, 2]")
    assert answer.status == 400 and error_code(answer) == "VALIDATION_ERROR"


def test_wrong_media_type_is_415(api, app_id):
    answer = api.post(JOBS, raw=json.dumps(body(app_id)).encode(), headers={"Content-Type": "text/plain"})
    assert answer.status == 415 and error_code(answer) == "UNSUPPORTED_MEDIA_TYPE"


def test_body_over_256_kb_is_413(api, app_id):
    big = body(app_id, description="x" * (300 * 1024))
    answer = api.post(JOBS, big)
    assert answer.status == 413 and error_code(answer) == "PAYLOAD_TOO_LARGE"


def test_unknown_query_parameter_and_bad_values_are_400(api):
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=x", "limit"),
        ("colour=red", "colour"),
        ("enabled=maybe", "enabled"),
        ("cursor=%%%", "cursor"),
        ("cursor=eyJ4IjoxfQ", "cursor"),
    ):
        answer = api.get(f"{JOBS}?{query}")
        assert answer.status == 400, query
        assert answer.error_fields() == [field], query


def test_hostile_values_never_cause_a_500(api, app_id):
    hostile = [
        {"applicationId": 2**70, "name": "x", "pattern": "* * * * *", "taskConfig": {"endpoint": "https://a.b.com"}},
        {"applicationId": app_id, "name": "\u0000", "pattern": "* * * * *", "taskConfig": {}},
        {"applicationId": app_id, "name": "x", "pattern": "* * * * *", "taskConfig": None},
        {"applicationId": app_id, "name": "x", "pattern": 5, "taskConfig": {"endpoint": 5}},
        {"applicationId": app_id, "name": "x", "runAt": "yesterday", "taskConfig": {"endpoint": "https://a.b.com"}},
        {
            "applicationId": app_id,
            "name": "x",
            "pattern": "* * * * *",
            "timezone": "../../etc/passwd",
            "taskConfig": {"endpoint": "https://a.b.com"},
        },
        {
            "applicationId": app_id,
            "name": "x",
            "pattern": "*/99999999999999999999 * * * *",
            "taskConfig": {"endpoint": "https://a.b.com"},
        },
        {"applicationId": True, "name": ["x"], "pattern": {}, "taskConfig": []},
    ]
    for item in hostile:
        answer = api.post(JOBS, item)
        assert 400 <= answer.status < 500, (item, answer.body)
        error_code(answer)


def test_jobs_list_paginates_by_id_with_filters(api, app_id):
    names = [f"job-{index:02d}" for index in range(7)]
    for index, name in enumerate(names):
        api.make_job(app_id, name=name, enabled=index % 2 == 0)
    seen = [job["id"] for job in api.pages(f"{JOBS}?limit=3")]
    assert seen == sorted(seen) and len(seen) == 7
    assert [j["name"] for j in api.get(f"{JOBS}?enabled=false").json] == ["job-01", "job-03", "job-05"]
    assert [j["name"] for j in api.get(f"{JOBS}?name=job-0&limit=2&enabled=true").json] == ["job-00", "job-02"]
    assert api.get(f"{JOBS}?applicationId={app_id}&name=nope").json == []


def test_idempotency_key_replays_the_first_response(api, app_id):
    headers = {"Idempotency-Key": "create-j-1"}
    first = api.post(JOBS, body(app_id), headers=headers)
    again = api.post(JOBS, body(app_id), headers=headers)
    assert first.status == again.status == 201
    assert again.json == first.json and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(api.get(JOBS).json) == 1


def test_idempotency_key_with_another_body_is_422(api, app_id):
    api.post(JOBS, body(app_id), headers={"Idempotency-Key": "k"})
    answer = api.post(JOBS, body(app_id, name="other"), headers={"Idempotency-Key": "k"})
    assert answer.status == 422 and error_code(answer) == "IDEMPOTENCY_MISMATCH"


def test_refused_request_leaves_the_idempotency_key_free(api, app_id):
    bad = api.post(JOBS, body(app_id, pattern="nope"), headers={"Idempotency-Key": "k2"})
    assert bad.status == 400
    assert api.post(JOBS, body(app_id, name="k2-fixed"), headers={"Idempotency-Key": "k2"}).status == 201


def test_idempotency_keys_are_per_user(api, member, app_id):
    assert api.post(JOBS, body(app_id, name="a"), headers={"Idempotency-Key": "same"}).status == 201
    assert member.post(JOBS, body(app_id, name="b"), headers={"Idempotency-Key": "same"}).status == 201


def test_concurrent_creates_of_one_name_give_one_201_and_one_409(live, api, app_id):
    admin = {"Authorization": f"Bearer {token('admin', admin=True)}"}

    def create(_: int) -> int:
        return httpx.post(live.url(JOBS), json=body(app_id, name="racy"), headers=admin, timeout=30).status_code

    for _ in range(3):
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            statuses = sorted(pool.map(create, range(4)))
        assert statuses.count(201) <= 1 and set(statuses) <= {201, 409}, statuses
    assert len([job for job in api.get(JOBS).json if job["name"] == "racy"]) == 1
