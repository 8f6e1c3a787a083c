"""Idempotency-Key (chalicelib/services/idempotency.py) beyond what the API tests show: a key whose first request
is still running, the key's own rules, and keys kept apart per operation."""

from __future__ import annotations

import pytest

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, ValidationError
from chalicelib.services import idempotency

ADMIN = Caller("admin", is_admin=True, apps=frozenset())
CREATE, TRIGGER = "scheduler.job.create", "scheduler.job.trigger"
BODY = {"name": "nightly"}


def test_a_key_whose_first_request_is_still_running_is_a_conflict_then_a_replay(aws):
    seen: list[Exception] = []

    def first() -> idempotency.Reply:
        with pytest.raises(Conflict, match="in progress") as raised:  # the same request again, meanwhile
            idempotency.run_once(CREATE, ADMIN, 1, "k", BODY, lambda: (500, "must not run", {}))
        seen.append(raised.value)
        return 201, {"id": 7}, {"ETag": '"1"'}

    assert idempotency.run_once(CREATE, ADMIN, 1, "k", BODY, first) == (201, {"id": 7}, {"ETag": '"1"'})
    assert len(seen) == 1
    replay = idempotency.run_once(CREATE, ADMIN, 1, "k", BODY, lambda: (500, "must not run", {}))
    assert replay == (201, {"id": 7}, {"ETag": '"1"', "Idempotent-Replayed": "true"})


def test_a_key_that_is_empty_too_long_or_unprintable_is_refused_before_anything_runs(aws):
    ran: list[bool] = []

    def action() -> idempotency.Reply:
        ran.append(True)
        return 201, {}, {}

    for key in ("", "k" * 256, "line\nbreak", "tab\there"):
        with pytest.raises(ValidationError) as refused:
            idempotency.run_once(CREATE, ADMIN, 1, key, BODY, action)
        assert [detail["field"] for detail in refused.value.details] == ["Idempotency-Key"], repr(key)
    assert ran == []
    assert idempotency.run_once(CREATE, ADMIN, 1, "k" * 255, BODY, action) == (201, {}, {})


def test_one_key_on_two_operations_is_two_requests(aws):
    assert idempotency.run_once(CREATE, ADMIN, 1, "same", BODY, lambda: (201, {"id": 1}, {}))[1] == {"id": 1}
    assert idempotency.run_once(TRIGGER, ADMIN, 1, "same", BODY, lambda: (202, {"id": 2}, {}))[1] == {"id": 2}


def test_without_a_key_every_request_runs(aws):
    runs = [idempotency.run_once(CREATE, ADMIN, 1, None, BODY, lambda: (201, {}, {})) for _ in range(2)]
    assert runs == [(201, {}, {}), (201, {}, {})]
