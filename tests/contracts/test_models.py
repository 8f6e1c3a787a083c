"""A job's fields are declared once, on JobSpec: the update model is derived from it, and the model clients read
must carry every one of them (a test, because the read model adds what the service derives)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.contracts.models import Job, JobSpec, JobUpdate, TaskConfig, TaskConfigUpdate


def test_the_update_model_has_every_field_of_the_spec_and_requires_none():
    assert set(JobUpdate.model_fields) == set(JobSpec.model_fields)
    assert set(TaskConfigUpdate.model_fields) == set(TaskConfig.model_fields)
    assert JobUpdate.model_validate({}).model_dump(exclude_unset=True) == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"taskConfig": {"method": "get"}}, ("taskConfig", "method")),
        ({"taskConfig": {"timeout": "5000"}}, ("taskConfig", "timeout")),
        ({"retryPolicy": {"maxAttempts": 11}}, ("retryPolicy", "maxAttempts")),
        ({"misfirePolicy": "later"}, ("misfirePolicy",)),
        ({"pattern": "61 * * * *"}, ("pattern",)),
        ({"timezone": "Mars/Olympus"}, ("timezone",)),
        ({"description": "x" * 2001}, ("description",)),
        ({"enabled": "yes"}, ("enabled",)),
    ],
)
def test_an_update_is_held_to_the_rules_of_each_field(body, field):
    with pytest.raises(ValidationError) as caught:
        JobUpdate.model_validate(body)
    assert caught.value.errors()[0]["loc"][: len(field)] == field


def test_null_is_kept_in_an_update_to_remove_a_field():
    update = JobUpdate.model_validate({"description": None, "taskConfig": {"headers": None}})
    assert update.model_dump(exclude_unset=True) == {"description": None, "taskConfig": {"headers": None}}


def test_the_read_model_carries_every_written_field():
    assert set(JobSpec.model_fields) - {"applicationId"} <= set(Job.model_fields)
