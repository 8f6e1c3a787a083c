"""An application's variables, signing keys and channels are one versioned item each, changed by read-modify-write.
When other requests win every attempt, the change is a 409 saying to try again (never a 500), nothing is lost, and
the same request goes through once the others stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.store import channels, keys, signing_keys, variables

APPS = "/_/scheduler/applications"

# (what, the store module whose writes lose, the request) for every write of those items through the API
Request = Callable[[Any, int, dict[str, Any]], Any]
WRITES: list[tuple[str, Any, Request]] = [
    ("variable put", variables, lambda api, app, made: api.put(f"{APPS}/{app}/variables/REGION", {"value": "eu"})),
    ("variable delete", variables, lambda api, app, made: api.delete(f"{APPS}/{app}/variables/HOST")),
    ("key create", signing_keys, lambda api, app, made: api.post(f"{APPS}/{app}/signing-keys", {"type": "hmac"})),
    ("key retire", signing_keys, lambda api, app, made: api.delete(f"{APPS}/{app}/signing-keys/{made['key']}")),
    ("channel create", channels, lambda api, app, made: api.post(
        f"{APPS}/{app}/channels", {"name": "pager", "type": "webhook", "url": "https://hooks.example.com/p"})),
    ("channel update", channels, lambda api, app, made: api.put(
        f"{APPS}/{app}/channels/{made['channel']}", {"name": "renamed"})),
    ("channel delete", channels, lambda api, app, made: api.delete(f"{APPS}/{app}/channels/{made['channel']}")),
]  # fmt: skip


@pytest.fixture
def scene(api) -> tuple[int, dict[str, Any]]:
    app = api.make_app()["id"]
    assert api.put(f"{APPS}/{app}/variables/HOST", {"value": "api.example.com"}).status in (200, 201)
    key = api.post(f"{APPS}/{app}/signing-keys", {"type": "hmac"}).json["id"]
    channel = api.post(f"{APPS}/{app}/channels", {"name": "ops", "type": "webhook",
                                                  "url": "https://hooks.example.com/o"}).json["id"]  # fmt: skip
    return app, {"key": key, "channel": channel}


def stored(api, app: int) -> tuple[Any, ...]:
    return tuple(api.get(f"{APPS}/{app}/{what}").json for what in ("variables", "signing-keys", "channels"))


@pytest.mark.parametrize(("what", "store", "request_"), WRITES, ids=[what for what, _, _ in WRITES])
def test_a_write_that_loses_every_attempt_is_a_409_that_keeps_everything_and_goes_through_later(
    api, scene, monkeypatch, what, store, request_
):
    app, made = scene
    before = stored(api, app)
    attempts: list[int | None] = []

    def always_beaten(item: Any, version: int | None) -> bool:
        attempts.append(version)
        return False

    with monkeypatch.context() as patch:
        patch.setattr(store, "save_versioned", always_beaten)
        answer = request_(api, app, made)
    assert answer.status == 409, answer.body
    assert answer.json["error"]["code"] == "CONFLICT" and "try again" in answer.json["error"]["message"]
    assert len(attempts) == keys.ATTEMPTS
    assert stored(api, app) == before
    assert request_(api, app, made).status in (200, 201, 204)
