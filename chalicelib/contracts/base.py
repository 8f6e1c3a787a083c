"""Contract-first operations: each API operation is declared once, with meta, io, policy and acceptance.

Routing validation, error details, the OpenAPI document and the acceptance tests all read these
declarations, so nothing about an operation is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

API_PREFIX = "/_/scheduler"  # every operation's path starts here
Auth = Literal["public", "user", "admin"]
Kind = Literal["command", "query"]


@dataclass(frozen=True)
class Policy:
    """Who may call: `public` (no token), `user` (any valid token, tenancy applies), `admin`."""

    auth: Auth = "user"


@dataclass(frozen=True)
class Scenario:
    key: str
    given: tuple[str, ...]
    when: tuple[str, ...]
    then: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    """An acceptance example, run as a test against the real handlers.

    `given` names what the harness creates (`application`, `job`, `disabled job`, `execution`); `{applicationId}`
    and `{jobId}` in the path or input are replaced with their ids. `output` must be a subset of the response.
    """

    key: str
    input: dict[str, Any] | None = None
    output: Any = None
    status: int = 200
    given: tuple[str, ...] = ()
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    as_user: str = "admin"


@dataclass(frozen=True)
class Operation:
    key: str
    version: str
    kind: Kind
    method: str
    path: str
    description: str
    goal: str
    context: str
    output: Any
    status: int = 200
    input: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    policy: Policy = field(default_factory=Policy)
    stability: Literal["experimental", "beta", "stable", "deprecated"] = "stable"
    owners: tuple[str, ...] = ("@scheduler-team",)
    tags: tuple[str, ...] = ()
    # The statuses the operation's own rules answer, beyond what the routing's checks derive (contracts/checks.py:
    # authentication, body, path ids, declared request headers...): {status: when}, or the bare statuses.
    errors: dict[int, str] | tuple[int, ...] = ()
    request_headers: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
    examples: tuple[Example, ...] = ()
    path_patterns: dict[str, str] = field(default_factory=dict)  # text parameters (others are ids) and their form
    optional_body: bool = False  # the input may be left out (no body at all): the handler gets None

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]

    def url(self, base: str, **params: object) -> str:
        """This operation's URL under `base` (the public GATEWAY_URL), path parameters filled in: a Location."""
        return base.rstrip("/") + self.path.format(**params)


REGISTRY: dict[str, Operation] = {}


def define(operation: Operation) -> Operation:
    """Register an operation; keys and (method, path) pairs are unique."""
    if operation.key in REGISTRY:
        raise ValueError(f"duplicate operation key {operation.key}")
    for other in REGISTRY.values():
        if (other.method, other.path) == (operation.method, operation.path):
            raise ValueError(f"{operation.key} and {other.key} share {operation.method} {operation.path}")
    REGISTRY[operation.key] = operation
    return operation
