"""An application's variables: one keys-table item per application (`vars#{applicationId}`), so a run that uses
variables reads them all with one GetItem, and a write is one conditional put of the whole set (its version
is the condition: two writers never lose each other's change)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib.store.keys import ATTEMPTS, Contended, save_versioned
from chalicelib.store.keys import get as get_key
from chalicelib.store.models import KeyModel

MAX_PER_APPLICATION = 64  # 64 values of up to 4 KB stay well inside one item's 400 KB


@dataclass(frozen=True)
class Variable:
    name: str
    value: str
    secret: bool
    updated_at: int
    updated_by: str | None = None
    created_by: str | None = None  # who first set it: bootstrap owns what it created and nobody changed since


class TooMany(Exception):
    """The application already holds MAX_PER_APPLICATION variables."""


def _key(application_id: int) -> str:
    return f"vars#{application_id}"


def _records(data: dict[str, Any] | None) -> dict[str, Variable]:
    return {
        name: Variable(
            name,
            str(item["value"]),
            bool(item.get("secret")),
            int(item["updatedAt"]),
            item.get("updatedBy"),
            item.get("createdBy", item.get("updatedBy")),
        )
        for name, item in (data or {}).items()
    }


def _read(application_id: int) -> tuple[dict[str, Variable], int | None]:
    item = get_key(_key(application_id))
    if item is None:
        return {}, None
    return _records(item.data), int(item.value or 0)


def all_of(application_id: int) -> dict[str, Variable]:
    """Every variable of the application, by name (strongly consistent: a run sees the latest values)."""
    return _read(application_id)[0]


def _write(application_id: int, variables: dict[str, Variable], version: int | None) -> bool:
    data = {v.name: {"value": v.value, "secret": v.secret, "updatedAt": v.updated_at, "updatedBy": v.updated_by,
                     "createdBy": v.created_by} for v in variables.values()}  # fmt: skip
    return save_versioned(KeyModel(_key(application_id), data=data), version)


def put(application_id: int, variable: Variable, expected: Variable | None = None, *, check: bool = False) -> bool:
    """Create or replace one variable (its first writer kept as `created_by`); True when it was new. TooMany
    when the set is full. With `check`, only if the variable is still `expected` (None: absent); False if not."""
    for _ in range(ATTEMPTS):
        current, version = _read(application_id)
        existing = current.get(variable.name)
        if check and existing != expected:
            return False
        if existing is None and len(current) >= MAX_PER_APPLICATION:
            raise TooMany(f"an application holds at most {MAX_PER_APPLICATION} variables")
        kept = replace(variable, created_by=existing.created_by if existing else variable.updated_by)
        if _write(application_id, {**current, variable.name: kept}, version):
            return existing is None
    raise Contended(f"the variables of application {application_id}")


def delete(application_id: int, name: str, expected: Variable | None = None) -> bool:
    """Remove one variable; False when there was none of that name (or, given `expected`, it changed since)."""
    for _ in range(ATTEMPTS):
        current, version = _read(application_id)
        if name not in current or (expected is not None and current[name] != expected):
            return False
        if _write(application_id, {key: v for key, v in current.items() if key != name}, version):
            return True
    raise Contended(f"the variables of application {application_id}")
