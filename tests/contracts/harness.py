"""The acceptance harness: the scene an example's `given` names, and an example as the request it describes.

Shared by the acceptance examples (test_acceptance.py) and the declared-status recipes (test_statuses.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.contracts.base import Example, Operation
from tests.conftest import Answer, Api, token

USERS = {
    "admin": lambda: token("admin", admin=True),
    "member": lambda: token("mia", apps=["demo"]),
    "outsider": lambda: token("oscar", apps=["other"]),
}
HARNESS_GIVES = {"application", "job", "disabled job", "execution"}  # what `given` below creates


def given(api: Api, names: tuple[str, ...]) -> dict[str, str]:
    ids: dict[str, str] = {}
    if names:
        ids["applicationId"] = str(api.make_app("demo", "Demo")["id"])
    if {"job", "disabled job", "execution"} & set(names):
        job = api.make_job(int(ids["applicationId"]), name="nightly-sync", enabled="disabled job" not in names)
        ids["jobId"] = str(job["id"])
    if "execution" in names:
        ids["executionId"] = str(api.post(f"/_/scheduler/jobs/{ids['jobId']}/trigger").json["id"])
    return ids


def substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, number in ids.items():
            if value == "{" + name + "}":
                return int(number)
            value = value.replace("{" + name + "}", number)
        return value
    if isinstance(value, dict):
        return {key: substitute(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, ids) for item in value]
    return value


@dataclass
class Sent:
    """A request as an example describes it, ids filled in."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    as_user: str = "admin"

    def send(self, api: Api, **changes: Any) -> Answer:
        """Send it (as its user), with `path`, `body`, `headers` or `raw` changed."""
        headers = {**self.headers, **changes.pop("headers", {})}
        path, body = changes.pop("path", self.path), changes.pop("body", self.body)
        caller = api.as_user(USERS[self.as_user]())
        return caller.request(self.method, path, body, headers=headers, **changes)


def request_of(operation: Operation, example: Example, ids: dict[str, str]) -> Sent:
    path = operation.path
    for name, value in example.path.items():
        path = path.replace("{" + name + "}", str(substitute(value, ids)))
    if example.query:
        path += "?" + "&".join(f"{key}={substitute(value, ids)}" for key, value in example.query.items())
    body = substitute(example.input, ids) if example.input is not None else None
    return Sent(operation.method, path, body, dict(example.headers), example.as_user)
