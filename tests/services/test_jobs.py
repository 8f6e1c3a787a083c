"""The jobs service's own rules, called directly where the API tests cannot say them plainly: when a written spec
counts as a change (bootstrap writes nothing otherwise), how a partial update merges, and If-Match lists."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from chalicelib.contracts.models import MASK, JobSpec, JobUpdate, TaskConfig
from chalicelib.services import jobs as service
from chalicelib.store.records import Job

TASK: dict[str, Any] = {"endpoint": "https://api.example.com", "path": "/sync", "method": "POST",
                        "headers": {"X-A": "1"}}  # fmt: skip
SPEC: dict[str, Any] = {"applicationId": 5, "name": "nightly", "pattern": "0 2 * * *", "taskConfig": TASK}

# For every field a client writes, a value other than the one in SPEC (or in TASK): a new field of JobSpec or
# TaskConfig fails its test below until it is listed here, so bootstrap is proven to see a change to it.
CHANGED: dict[str, Any] = {
    "applicationId": 6,
    "name": "daily",
    "description": "now described",
    "enabled": False,
    "pattern": "0 3 * * *",
    "runAt": "2099-01-01T00:00:00Z",
    "timezone": "Europe/Berlin",
    "taskConfig": {**TASK, "timeout": 5000},
    "retryPolicy": {"maxAttempts": 1},
    "misfirePolicy": "skip",
    "concurrencyPolicy": "forbid",
    "jitterSeconds": 30,
    "startAt": "2030-01-01T00:00:00Z",
    "endAt": "2099-01-01T00:00:00Z",
    "alerts": {"afterFailures": 2},
}
CHANGED_TASK: dict[str, Any] = {
    "endpoint": "https://other.example.com",
    "path": "/other",
    "url": "https://api.example.com/elsewhere",  # from a task given by url (url excludes endpoint and path)
    "method": "PUT",
    "body": {"full": True},
    "headers": {"X-A": "2"},
    "secretHeaders": ["x-a"],
    "auth": {"authMethod": "bearer", "token": "t-1"},
    "timeout": 5000,
    "sign": False,
    "expect": {"status": [204]},
}
ONE_VALUE_ONLY = {"taskType"}  # a Literal of one value: no valid spec differs in it


def stored(spec: dict[str, Any], version: int = 1) -> Job:
    return Job(id=1, spec=JobSpec.model_validate(spec), version=version, created_at=0, updated_at=0)


# --- spec_matches: bootstrap writes a job only when the file changes something ------------------------------------


def test_the_same_spec_matches_however_its_defaults_and_name_are_written():
    explicit = {**SPEC, "name": "  nightly ", "enabled": True, "timezone": "UTC", "taskType": "HttpInvokerTask",
                "retryPolicy": {"maxAttempts": 3}, "misfirePolicy": "fire_once", "concurrencyPolicy": "allow",
                "taskConfig": {**TASK, "timeout": 30_000}}  # fmt: skip
    assert service.spec_matches(stored(SPEC), JobSpec.model_validate(explicit))
    assert service.spec_matches(stored(SPEC), JobSpec.model_validate(SPEC))


@pytest.mark.parametrize("field", list(JobSpec.model_fields))
def test_a_spec_differing_in_any_one_field_does_not_match(field):
    if field in ONE_VALUE_ONLY:
        assert len(get_args(JobSpec.model_fields[field].annotation)) == 1, f"list a changed {field} in CHANGED"
        return
    assert field in CHANGED, f"list a changed value of JobSpec.{field} in CHANGED"
    assert SPEC.get(field) != CHANGED[field]
    assert not service.spec_matches(stored(SPEC), JobSpec.model_validate({**SPEC, field: CHANGED[field]}))


@pytest.mark.parametrize("field", list(TaskConfig.model_fields))
def test_a_task_config_differing_in_any_one_key_does_not_match(field):
    assert field in CHANGED_TASK, f"list a changed value of TaskConfig.{field} in CHANGED_TASK"
    task = {"url": "https://api.example.com/sync"} if field == "url" else TASK
    assert task.get(field) != CHANGED_TASK[field]
    changed = {**SPEC, "taskConfig": {**task, field: CHANGED_TASK[field]}}
    assert not service.spec_matches(stored({**SPEC, "taskConfig": task}), JobSpec.model_validate(changed))


# --- merge: a partial update --------------------------------------------------------------------------------------


def merge(job: Job, patch: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    return service.merge(job, JobUpdate.model_validate(patch))


def test_task_config_keys_merge_one_level_deep_a_nested_value_is_replaced_whole():
    job = stored({**SPEC, "taskConfig": {**TASK, "headers": {"X-A": "1", "X-B": "2"}, "body": {"a": 1, "b": 2}}})
    merged, dropped = merge(job, {"taskConfig": {"headers": {"X-C": "3"}, "body": {"a": 9}}})
    assert merged["taskConfig"]["headers"] == {"X-C": "3"} and merged["taskConfig"]["body"] == {"a": 9}
    assert {key: merged["taskConfig"][key] for key in ("endpoint", "path", "method")} == {
        "endpoint": "https://api.example.com", "path": "/sync", "method": "POST"}  # fmt: skip
    assert dropped == []


def test_null_removes_a_field_and_a_task_config_key_and_leaves_the_rest():
    job = stored({**SPEC, "description": "d", "taskConfig": {**TASK, "timeout": 5000}})
    merged, _ = merge(job, {"description": None, "taskConfig": {"timeout": None}})
    assert "description" not in merged and "timeout" not in merged["taskConfig"]
    assert merged["pattern"] == SPEC["pattern"] and merged["taskConfig"]["headers"] == {"X-A": "1"}


def test_a_mask_sent_back_in_a_replaced_header_map_keeps_the_stored_secret_whatever_the_case():
    job = stored({**SPEC, "taskConfig": {**TASK, "headers": {"Authorization": "Bearer s3cr3t", "X-A": "1"}}})
    merged, dropped = merge(job, {"taskConfig": {"headers": {"authorization": MASK, "X-B": "2"}}})
    assert merged["taskConfig"]["headers"] == {"authorization": "Bearer s3cr3t", "X-B": "2"}
    assert dropped == []


# --- If-Match ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_match", "matches"),
    [('"1", "2"', True), ('"1",W/"2"', True), ('"1", *', True), ('"1", "3"', False), ('"20"', False)],
)
def test_if_match_accepts_a_list_of_tags(if_match, matches):
    assert service.matches(if_match, stored(SPEC, version=2)) is matches
