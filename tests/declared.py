"""Whether an answer is one the OpenAPI document declares: its status for the operation, and each header it carries
for that status. The API test client (tests/conftest.py `Api`) and the local stack's client check every answer of
the suite with it, so a status or header the document does not declare fails the test that saw it."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from chalicelib.contracts import openapi  # noqa: F401 - registers every operation
from chalicelib.contracts.base import REGISTRY, Operation
from chalicelib.contracts.checks import answers

# Headers of HTTP itself, not of the API: the servers (Chalice's test client, its local server) add them.
TRANSPORT = frozenset({"content-type", "content-length", "date", "server", "connection", "keep-alive"})
ROUTES = sorted({operation.path for operation in REGISTRY.values()})  # sorted as Chalice matches them


def operation_at(method: str, url: str) -> Operation | None:
    """The operation a request reaches, matched as Chalice matches routes (the first sorted route whose segments
    fit, whatever its methods); None for a path or method no operation serves (the Admin UI's files, a 405)."""
    path = urlsplit(url).path
    path = path.rstrip("/") if path != "/" else path
    parts = path.split("/")
    for route in ROUTES:
        pattern = route.split("/")
        if len(pattern) == len(parts) and all(
            p.startswith("{") or p == part for p, part in zip(pattern, parts, strict=True)
        ):
            return next((op for op in REGISTRY.values() if (op.method, op.path) == (method.upper(), route)), None)
    return None


def undeclared(method: str, url: str, status: int, headers: Mapping[str, str]) -> list[str]:
    """What the document does not declare about this answer: its status, or headers it carries."""
    operation = operation_at(method, url)
    if operation is None:
        return []
    answer = answers(operation).get(status)
    where = f"{method.upper()} {urlsplit(url).path} ({operation.key})"
    if answer is None:
        return [f"{where} answered {status}, which the document does not declare ({sorted(answers(operation))})"]
    declared = {name.lower() for name in answer.headers}
    return [f"{where} answered {status} with the undeclared header {name}" for name in headers
            if name.lower() not in declared | TRANSPORT]  # fmt: skip


def check(method: str, url: str, status: int, headers: Mapping[str, str]) -> None:
    problems = undeclared(method, url, status, headers)
    assert not problems, "; ".join(problems)
