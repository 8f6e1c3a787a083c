"""Each status the document declares for an operation is provoked, and no operation answers one it does not declare.

The statuses come from two places (chalicelib/contracts/checks.py): the routing's checks, each provoked here by
its recipe on every operation it applies to, and the operation's own `errors`, each provoked by one of its
acceptance examples (run in test_acceptance.py) or, where a fault must be injected, by a recipe of its own below.
Every answer these tests, and all the others, get through the API client is held to the document by
tests/declared.py: a status or header it does not declare for the operation fails the test that saw it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.api import routing
from chalicelib.contracts import checks
from chalicelib.contracts.base import REGISTRY, Example, Operation
from chalicelib.contracts.checks import CHECKS, answers, checks_of
from chalicelib.errors import ApiError
from chalicelib.services import idempotency
from chalicelib.settings import get_settings
from chalicelib.store import jobs as job_store
from chalicelib.store import variables as variable_store
from tests import declared
from tests.conftest import Answer, Api, token
from tests.contracts.harness import Sent, given, request_of, substitute

OPERATIONS = sorted(REGISTRY.values(), key=lambda op: op.key)
ADMIN_TOKEN = token("admin", admin=True)
Recipe = Callable[["Scene"], list[int]]


class Scene:
    """An operation with what its examples set up: a request that succeeds (or the closest its examples give),
    with every path parameter filled by a value of its form. `patch` undoes each recipe's faults after it."""

    def __init__(self, api: Api, operation: Operation) -> None:
        self.api, self.operation = api, operation
        self.example = self._base_example()
        self.ids = given(api, self.example.given)
        self.request = request_of(operation, self.example, self.ids)
        self.patch: pytest.MonkeyPatch
        self._suffixes = itertools.count(1)

    def _base_example(self) -> Example:
        examples = self.operation.examples
        return next((ex for ex in examples if ex.status < 300 and ex.as_user == "admin"), examples[0])

    def succeeding(self, fresh: bool = False) -> Sent:
        """The request that succeeds; `fresh`: with a new `name` each time, so a create can be sent again."""
        assert self.example.status < 300, f"{self.operation.key} needs an acceptance example that succeeds"
        body = self.request.body
        if fresh and isinstance(body, dict) and "name" in body:
            body = {**body, "name": f"{body['name']}-{next(self._suffixes)}"}
        return Sent(self.request.method, self.request.path, body, self.request.headers, self.request.as_user)

    def path(self, **replaced: str) -> str:
        """The operation's path, parameters as in its example (or `1`) unless replaced; no query."""
        path = self.operation.path
        for name in self.operation.path_params:
            value = replaced.get(name) or str(substitute(self.example.path.get(name, "1"), self.ids))
            path = path.replace("{" + name + "}", value)
        return path

    def send(self, user: str | None = ADMIN_TOKEN, path: str | None = None, **kw: Any) -> Answer:
        """The operation at `path` (default: the scene's), with an empty JSON object as the body if it takes one."""
        if self.operation.input is not None:
            kw.setdefault("raw", b"{}")
        return self.api.as_user(user).request(self.operation.method, path or self.path(), **kw)


def expect(answer: Answer, error: type[ApiError], field: str | None = None, says: str = "") -> int:
    """The answer is `error` (status and code), naming `field` and saying `says` when given; its status."""
    assert (answer.status, answer.json["error"]["code"]) == (error.status, error.code), answer.body
    assert field is None or field in answer.error_fields(), answer.body
    assert says in answer.json["error"]["message"], answer.body
    return answer.status


def not_of_form(pattern: str) -> str:
    return next(text for text in ("lower-case", "-", "x" * 300) if not re.fullmatch(pattern, text))


# --- one recipe per check of the routing layer: what provokes it on any operation it applies to -------------------


def same_origin(scene: Scene) -> list[int]:
    cookie = {"Cookie": f"session={ADMIN_TOKEN}"}
    foreign = {"Origin": "https://attacker.example"}
    return [expect(scene.send(None, headers=cookie), errors.Forbidden, says="Origin"),
            expect(scene.send(None, headers=foreign), errors.Forbidden, says="cross-site")]  # fmt: skip


def authenticated(scene: Scene) -> list[int]:
    return [expect(scene.send(None), errors.Unauthenticated)]


def admin(scene: Scene) -> list[int]:
    return [expect(scene.send(token("mia", apps=["demo"])), errors.Forbidden, says="scheduler:admin")]


def json_body(scene: Scene) -> list[int]:
    too_large = b'{"' + b"x" * (checks.MAX_BODY_BYTES + 44 * 1024) + b'": 1}'
    return [
        expect(scene.send(raw=b'{"name": '), errors.InvalidJson),
        expect(scene.send(raw=b"[]"), errors.ValidationError, "body"),
        expect(scene.send(raw=too_large), errors.PayloadTooLarge),
        expect(scene.send(raw=b"name=x", headers={"Content-Type": "text/plain"}), errors.UnsupportedMediaType),
    ]


def query(scene: Scene) -> list[int]:
    return [expect(scene.send(path=scene.path() + "?colour=red"), errors.ValidationError, "colour")]


def path_id(scene: Scene) -> list[int]:
    ids = checks.id_params(scene.operation)
    found = [expect(scene.send(path=scene.path(**dict.fromkeys(ids, "no-such-id"))), errors.NotFound)]
    if scene.operation.input is None:  # a write checks its body before it looks anything up
        found.append(expect(scene.send(path=scene.path(**dict.fromkeys(ids, "999999999"))), errors.NotFound))
    return found


def path_name(scene: Scene) -> list[int]:
    odd = {name: not_of_form(pattern) for name, pattern in scene.operation.path_patterns.items()}
    return [expect(scene.send(path=scene.path(**odd)), errors.NotFound)]


def path_name_write(scene: Scene) -> list[int]:
    return [expect(scene.send(path=scene.path(**{name: not_of_form(pattern)})), errors.ValidationError, name)
            for name, pattern in scene.operation.path_patterns.items()]  # fmt: skip


def if_match(scene: Scene) -> list[int]:
    stale = scene.succeeding().send(scene.api, headers={checks.IF_MATCH: '"0"'})
    return [expect(stale, errors.PreconditionFailed)]


def idempotency_key(scene: Scene) -> list[int]:
    long_key = scene.succeeding().send(scene.api, headers={checks.IDEMPOTENCY_KEY: "k" * 256})
    return [expect(long_key, errors.ValidationError, checks.IDEMPOTENCY_KEY)]


def idempotency_in_progress(scene: Scene) -> list[int]:
    """A second request with the key while the first still holds it: sent from inside the first's action."""
    request, key = scene.succeeding(fresh=True), {checks.IDEMPOTENCY_KEY: "in-progress"}
    original = idempotency.run_once
    second: list[Answer] = []

    def racing(operation: str, caller: Any, scope: int, key_: str | None, body: Any, action: Callable[[], Any]) -> Any:
        def action_raced_by_a_second_request() -> Any:
            if not second:
                second.append(request.send(scene.api, headers=key))
            return action()

        return original(operation, caller, scope, key_, body, action_raced_by_a_second_request)

    scene.patch.setattr(idempotency, "run_once", racing)
    first = request.send(scene.api, headers=key)
    assert first.status < 300, first.body
    return [expect(second[0], errors.Conflict, says="in progress")]


def idempotency_body(scene: Scene) -> list[int]:
    request, key = scene.succeeding(fresh=True), {checks.IDEMPOTENCY_KEY: "first-body"}
    first, replay = request.send(scene.api, headers=key), request.send(scene.api, headers=key)
    assert (replay.status, replay.json, replay.headers.get("idempotent-replayed")) == (first.status, first.json, "true")
    other = scene.succeeding(fresh=True).body
    assert other != request.body, f"{scene.operation.key}: no `name` to tell a second body from the first"
    return [expect(request.send(scene.api, headers=key, body=other), errors.IdempotencyMismatch)]


def internal(scene: Scene) -> list[int]:
    def failing(call: routing.Call) -> None:
        raise RuntimeError("the store went away")

    scene.patch.setitem(routing.HANDLERS, scene.operation.key, failing)
    answer = scene.request.send(scene.api)
    assert "store" not in answer.body.decode(), answer.body
    return [expect(answer, errors.Internal, says="logged")]


RECIPES: dict[str, Recipe] = {
    "same-origin": same_origin,
    "authenticated": authenticated,
    "admin": admin,
    "json-body": json_body,
    "query": query,
    "path-id": path_id,
    "path-name": path_name,
    "path-name-write": path_name_write,
    "if-match": if_match,
    "idempotency-key": idempotency_key,
    "idempotency-in-progress": idempotency_in_progress,
    "idempotency-body": idempotency_body,
    "internal": internal,
}


# --- the operations' own statuses that no acceptance example can provoke: a fault or a race is needed -------------


def always_stale(*args: Any) -> None:
    raise job_store.StaleVersion()


def raced_enable(scene: Scene) -> list[int]:
    scene.patch.setattr(job_store, "replace", always_stale)
    return [expect(scene.request.send(scene.api), errors.Conflict, says="concurrently")]


def raced_disable(scene: Scene) -> list[int]:
    scene.patch.setattr(job_store, "replace", always_stale)
    return [expect(scene.request.send(scene.api), errors.Conflict, says="concurrently")]


def renamed_onto_another(scene: Scene) -> list[int]:
    scene.api.make_job(int(scene.ids["applicationId"]), name="other")
    return [expect(scene.request.send(scene.api, body={"name": "other"}), errors.Conflict, "name")]


def trigger_limit(scene: Scene) -> list[int]:
    scene.patch.setenv("TRIGGER_LIMIT_PER_JOB", "1")
    get_settings.cache_clear()
    try:
        job = scene.api.make_job(int(scene.ids["applicationId"]), name="triggered-twice")
        path = scene.path(id=str(job["id"]))
        first, second = scene.api.post(path), scene.api.post(path)
    finally:
        scene.patch.delenv("TRIGGER_LIMIT_PER_JOB")
        get_settings.cache_clear()
    assert first.status == 202 and 1 <= int(second.headers["retry-after"]) <= 60, (first.body, second.headers)
    return [expect(second, errors.TooManyRequests, says="a minute per job")]


def queue_unreachable(scene: Scene) -> list[int]:
    from chalicelib.services import executions

    scene.patch.setattr(executions, "send", lambda messages: messages)  # every message refused
    return [expect(scene.request.send(scene.api), errors.Unavailable, says="queue")]


def store_unreachable(scene: Scene) -> list[int]:
    from chalicelib.store import applications

    scene.patch.setattr(applications, "reachable", lambda: False)
    return [expect(scene.request.send(scene.api), errors.Unavailable, says="store")]


def one_variable_too_many(scene: Scene) -> list[int]:
    scene.patch.setattr(variable_store, "MAX_PER_APPLICATION", 1)
    assert scene.request.send(scene.api).status == 200
    other = scene.request.send(scene.api, path=scene.request.path.replace("HOST", "PORT"), body={"value": "1"})
    return [expect(other, errors.Conflict, says="at most 1 variables")]


def variable_in_use(scene: Scene) -> list[int]:
    app_id = scene.ids["applicationId"]
    assert scene.api.put(f"/_/scheduler/applications/{app_id}/variables/HOST", {"value": "a.example"}).status == 200
    scene.api.make_job(int(app_id), name="uses-host", taskConfig={"endpoint": "https://${HOST}"})
    return [expect(scene.send(path=scene.path(name="HOST")), errors.Conflict, says="uses-host")]


def one_key_too_many(scene: Scene) -> list[int]:
    from chalicelib.store import signing_keys

    scene.patch.setattr(signing_keys, "MAX_KEYS", 1)  # the application's first key fills it
    return [expect(scene.request.send(scene.api), errors.Conflict, says="at most 1 active")]


def the_last_key(scene: Scene) -> list[int]:
    app_id = scene.ids["applicationId"]
    (first,) = scene.api.get(f"/_/scheduler/applications/{app_id}/signing-keys").json
    return [expect(scene.send(path=scene.path(keyId=first["id"])), errors.Conflict, says="at least one")]


def backfill_queue_unreachable(scene: Scene) -> list[int]:
    from chalicelib.services import backfills

    scene.patch.setattr(backfills, "send", lambda messages: messages)  # every message refused
    return [expect(scene.request.send(scene.api), errors.Unavailable, says="queue")]


def one_channel_too_many(scene: Scene) -> list[int]:
    from chalicelib.store import channels

    scene.patch.setattr(channels, "MAX_PER_APPLICATION", 1)
    assert scene.request.send(scene.api).status == 201
    again = scene.request.send(scene.api, body={**scene.request.body, "name": "second"})
    return [expect(again, errors.Conflict, says="at most 1")]


def channel_renamed_onto_another(scene: Scene) -> list[int]:
    app_id = scene.ids["applicationId"]
    body = {"type": "webhook", "url": "https://hooks.example.com/a"}
    first = scene.api.post(f"/_/scheduler/applications/{app_id}/channels", {**body, "name": "first"}).json
    scene.api.post(f"/_/scheduler/applications/{app_id}/channels", {**body, "name": "taken"})
    answer = scene.api.put(f"/_/scheduler/applications/{app_id}/channels/{first['id']}", {"name": "taken"})
    return [expect(answer, errors.Conflict, says="already exists")]


def channels_contended(scene: Scene) -> list[int]:
    """Another request wins every read-modify-write of the application's channels."""
    from chalicelib.store import channels

    app_id = scene.ids["applicationId"]
    body = {"type": "webhook", "url": "https://hooks.example.com/a", "name": "busy"}
    made = scene.api.post(f"/_/scheduler/applications/{app_id}/channels", body).json
    scene.patch.setattr(channels, "save_versioned", lambda item, version: False)
    answer = scene.api.delete(f"/_/scheduler/applications/{app_id}/channels/{made['id']}")
    return [expect(answer, errors.Conflict, says="try again")]


OWN_RECIPES: dict[tuple[str, int], Recipe] = {
    ("scheduler.channel.delete", 409): channels_contended,
    ("scheduler.channel.create", 409): one_channel_too_many,
    ("scheduler.channel.update", 409): channel_renamed_onto_another,
    ("scheduler.signing-key.create", 409): one_key_too_many,
    ("scheduler.signing-key.delete", 409): the_last_key,
    ("scheduler.job.backfill", 503): backfill_queue_unreachable,
    ("scheduler.job.enable", 409): raced_enable,
    ("scheduler.job.disable", 409): raced_disable,
    ("scheduler.job.update", 409): renamed_onto_another,
    ("scheduler.job.trigger", 429): trigger_limit,
    ("scheduler.job.trigger", 503): queue_unreachable,
    ("scheduler.health.get", 503): store_unreachable,
    ("scheduler.variable.put", 409): one_variable_too_many,
    ("scheduler.variable.delete", 409): variable_in_use,
}


def derived(operation: Operation) -> set[int]:
    return {status for check in checks_of(operation) for status in check.statuses}


def test_every_check_has_a_recipe_and_every_own_status_a_way_to_be_provoked():
    """An own status that a check also answers is provoked by the check's recipe; the others need an example."""
    assert set(RECIPES) == {check.key for check in CHECKS}
    missing = [f"{op.key} {status}" for op in OPERATIONS for status in sorted(set(op.errors) - derived(op))
               if (op.key, status) not in OWN_RECIPES and all(ex.status != status for ex in op.examples)]  # fmt: skip
    assert missing == [], "give each an acceptance example of that status (or a recipe in OWN_RECIPES)"
    assert all(status in REGISTRY[key].errors for key, status in OWN_RECIPES)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.key for op in OPERATIONS])
def test_every_declared_status_is_provoked(api, monkeypatch, operation: Operation):
    """Each check that applies, then each own recipe, on one scene; the examples' statuses count as provoked
    (test_acceptance.py runs them). Together they must give every status the document declares."""
    scene = Scene(api, operation)
    runs = [(check.key, set(check.statuses), RECIPES[check.key]) for check in checks_of(operation)]
    runs += [
        (f"own {status}", {status}, recipe) for (key, status), recipe in OWN_RECIPES.items() if key == operation.key
    ]
    provoked, failures = {operation.status} | {example.status for example in operation.examples}, []
    for name, wanted, recipe in runs:
        with monkeypatch.context() as patch:
            scene.patch = patch
            try:
                got = set(recipe(scene))
            except AssertionError as exc:
                failures.append(f"{name}: {exc}")
                continue
        if not wanted <= got:
            failures.append(f"{name}: provoked {sorted(got)}, not {sorted(wanted)}")
        provoked |= got
    assert failures == []
    assert provoked == set(answers(operation)), f"declared but never provoked: {set(answers(operation)) - provoked}"


def test_the_document_says_why_for_each_error_and_names_its_codes():
    for operation in OPERATIONS:
        for status, answer in answers(operation).items():
            if status != operation.status:
                assert answer.codes and all(answer.why), (operation.key, status)


def test_an_answer_the_document_does_not_declare_fails_the_test_that_sees_it():
    job = "/_/scheduler/jobs/7"
    assert declared.undeclared("GET", job, 200, {"ETag": '"1"', "Content-Type": "application/json"}) == []
    assert declared.undeclared("POST", "/_/scheduler/jobs/7/trigger?x=1", 429, {"Retry-After": "3"}) == []
    assert declared.undeclared("POST", "/_/scheduler/jobs/schedule", 201, {"Idempotent-Replayed": "true"}) == []
    assert declared.undeclared("GET", job, 418, {}) == [
        f"GET {job} (scheduler.job.get) answered 418, which the document does not declare ([200, 401, 404, 500])"
    ]
    assert declared.undeclared("GET", job, 200, {"X-Debug": "1"}) != []
    assert declared.undeclared("GET", job, 404, {"ETag": '"1"'}) != []  # ETag is declared for the success only
    assert declared.undeclared("PATCH", job, 405, {"Allow": "GET"}) == []  # no operation: Chalice's own answer
    assert declared.undeclared("GET", "/_/scheduler/ui/assets/app.js", 200, {"ETag": "x"}) == []
