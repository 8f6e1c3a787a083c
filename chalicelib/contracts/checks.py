"""What every operation can answer, derived from facts about it: the routing layer's checks, declared here.

Each check says which operations it applies to (from their method, policy, models, path and declared request
headers), the errors it raises and the headers it adds to a success. The routing layer runs a check exactly where
it `applies` (chalicelib/api/routing.py asks these objects), and the OpenAPI document derives each operation's
statuses from the same objects plus the operation's own `errors` (what its service answers beyond the checks: a
name taken, a rate limit). So a new operation gets its statuses by being declared, and the document cannot promise
less than the routing does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import errors
from chalicelib.contracts.base import Operation
from chalicelib.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UI_HEADER = ("X-Requested-With", "scheduler-ui")  # what the Admin UI sends with every write
MAX_BODY_BYTES = 256 * 1024
IF_MATCH = "If-Match"
IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def id_params(operation: Operation) -> list[str]:
    """The path parameters that are numeric ids (the others have a declared text form: `path_patterns`)."""
    return [name for name in operation.path_params if name not in operation.path_patterns]


@dataclass(frozen=True)
class Check:
    """A rule of the routing layer: where it `applies`, the errors it raises (each with when), and the headers it
    may add to the operation's success."""

    key: str
    applies: Callable[[Operation], bool]
    raises: dict[type[ApiError], str]
    headers: tuple[str, ...] = ()

    @property
    def statuses(self) -> tuple[int, ...]:
        return tuple(sorted({error.status for error in self.raises}))


SAME_ORIGIN = Check(
    "same-origin",
    lambda op: op.method not in SAFE_METHODS,
    {
        errors.Forbidden: "a write without a bearer token from another site: a foreign Origin, or the session "
        f"cookie with neither Origin nor {UI_HEADER[0]}: {UI_HEADER[1]}"
    },
)
AUTHENTICATED = Check(
    "authenticated",
    lambda op: op.policy.auth != "public",
    {errors.Unauthenticated: "no valid bearer token or session cookie"},
)
ADMIN = Check(
    "admin",
    lambda op: op.policy.auth == "admin",
    {errors.Forbidden: "the token lacks the scheduler:admin role"},
)
JSON_BODY = Check(
    "json-body",
    lambda op: op.input is not None,
    {
        errors.InvalidJson: "the body is not a standard JSON document (INVALID_JSON)",
        errors.ValidationError: "the body is not the declared model (VALIDATION_ERROR naming each field)",
        errors.PayloadTooLarge: f"the body is over {MAX_BODY_BYTES // 1024} KB",
        errors.UnsupportedMediaType: "the body is not sent as application/json",
    },
)
QUERY = Check(
    "query",
    lambda op: op.query is not None,
    {errors.ValidationError: "a query parameter is unknown or out of range, or a cursor is not one of this API's"},
)
PATH_ID = Check(
    "path-id",
    lambda op: bool(id_params(op)),
    {errors.NotFound: "no resource the caller may see has this id"},
)
PATH_NAME = Check(
    "path-name",
    lambda op: bool(op.path_patterns) and op.input is None,
    {errors.NotFound: "nothing has this name (a name not of its declared form included)"},
)
PATH_NAME_WRITE = Check(
    "path-name-write",
    lambda op: bool(op.path_patterns) and op.input is not None,
    {errors.ValidationError: "a name in the path is not of its declared form"},
)
PRECONDITION = Check(
    "if-match",
    lambda op: IF_MATCH in op.request_headers,
    {errors.PreconditionFailed: f"the {IF_MATCH} ETag is not the current one"},
)
IDEMPOTENCY = Check(
    "idempotency-key",
    lambda op: IDEMPOTENCY_KEY in op.request_headers,
    {errors.ValidationError: f"an {IDEMPOTENCY_KEY} that is not 1 to 255 printable characters"},
    headers=(REPLAYED,),
)
IDEMPOTENCY_IN_PROGRESS = Check(
    "idempotency-in-progress",
    lambda op: IDEMPOTENCY_KEY in op.request_headers,
    {errors.Conflict: f"the first request with this {IDEMPOTENCY_KEY} is still in progress"},
)
IDEMPOTENCY_BODY = Check(
    "idempotency-body",
    lambda op: IDEMPOTENCY_KEY in op.request_headers and op.input is not None,
    {errors.IdempotencyMismatch: f"the {IDEMPOTENCY_KEY} was used before with another body"},
)
INTERNAL = Check(
    "internal",
    lambda op: True,
    {errors.Internal: "the service failed (logged); nothing a client sends causes it"},
)

CHECKS = (SAME_ORIGIN, AUTHENTICATED, ADMIN, JSON_BODY, QUERY, PATH_ID, PATH_NAME, PATH_NAME_WRITE, PRECONDITION,
          IDEMPOTENCY, IDEMPOTENCY_IN_PROGRESS, IDEMPOTENCY_BODY, INTERNAL)  # fmt: skip
OWN_RULES = "the operation's own rules (its description and examples say when)"


@dataclass(frozen=True)
class Answer:
    """One status an operation can answer: its error codes (none for a success), why, and its headers."""

    status: int
    codes: tuple[str, ...] = ()
    why: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()


def checks_of(operation: Operation) -> list[Check]:
    return [check for check in CHECKS if check.applies(operation)]


def answers(operation: Operation) -> dict[int, Answer]:
    """Every status `operation` can answer, by status: its success, each applying check's errors, and the
    statuses of its own rules (`operation.errors`)."""
    headers = [*operation.response_headers]
    reasons: dict[int, list[str]] = {}
    raised: dict[int, list[type[ApiError]]] = {}
    for check in checks_of(operation):
        headers += [name for name in check.headers if name not in headers]
        for error, why in check.raises.items():
            raised.setdefault(error.status, []).append(error)
            reasons.setdefault(error.status, []).append(why)
    own = operation.errors if isinstance(operation.errors, dict) else dict.fromkeys(operation.errors, OWN_RULES)
    for status, why in own.items():
        raised.setdefault(status, []).extend(errors.BY_STATUS[status])
        reasons.setdefault(status, []).append(why)
    found = {operation.status: Answer(operation.status, headers=tuple(headers))}
    for status in sorted(raised):
        kinds = list(dict.fromkeys(raised[status]))
        codes = tuple(dict.fromkeys(kind.code for kind in kinds))
        extra = tuple(dict.fromkeys(name for kind in kinds for name in kind.header_names))
        found[status] = Answer(status, codes, tuple(reasons[status]), extra)
    return found
