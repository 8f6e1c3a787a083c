"""Small records in the keys table: unique-name claims, id counters and idempotency records."""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.store.models import KeyModel


def update_quietly(item: Model, actions: list[Any], condition: Any) -> None:
    """A conditional UpdateItem that asks nothing back (PynamoDB's `update` asks for the whole new item, which
    DynamoDB and its local stand-in then serialise for nothing). Raises UpdateError like `update`."""
    hash_key, range_key = item._get_hash_range_key_serialized_values()
    item._get_connection().update_item(hash_key, range_key=range_key, actions=actions, condition=condition,
                                       return_values="NONE")  # fmt: skip


def is_condition_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


ATTEMPTS = 5  # read-modify-writes of one versioned item before giving up


class Contended(Exception):
    """Other writers changed the versioned item on every one of ATTEMPTS read-modify-writes (a 409: try again)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} were changed by other requests on each of {ATTEMPTS} attempts; try again")


def version_is(version: int | None) -> Any:
    """The condition of a versioned item's write: the stored item is still at `version` (None: there is none)."""
    return KeyModel.key.does_not_exist() if version is None else KeyModel.value == version


def save_versioned(item: KeyModel, version: int | None) -> bool:
    """Save `item` as the version after `version` if the stored one is still at `version`; False when another
    writer was first. The keys table's optimistic lock, for an application's variables, signing keys and
    channels (one item each) and for backfills."""
    item.value = (version or 0) + 1
    try:
        item.save(condition=version_is(version))
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def app_name_key(name: str) -> str:
    return f"appname#{name}"


def job_name_key(application_id: int, name: str) -> str:
    return f"jobname#{application_id}#{name}"


def allocate_ids(counter: str, count: int = 1) -> int:
    """Reserve `count` consecutive ids from a counter; returns the last one. For rare writes only."""
    item = KeyModel(f"counter#{counter}")
    item.update(actions=[KeyModel.value.add(count)])
    return int(item.value)


def get(key: str) -> KeyModel | None:
    try:
        return KeyModel.get(key, consistent_read=True)
    except DoesNotExist:
        return None


def refs(keys: list[str]) -> dict[str, int]:
    """key → ref for the keys that exist."""
    found: dict[str, int] = {}
    for item in KeyModel.batch_get(list(dict.fromkeys(keys))):
        if item.ref is not None:
            found[item.key] = int(item.ref)
    return found


def put_new(key: str, data: dict[str, Any], ttl_seconds: int) -> bool:
    """Create `key` unless it exists; False when someone else holds it."""
    try:
        KeyModel(key, data=data, expiresAt=int(time.time()) + ttl_seconds).save(condition=KeyModel.key.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def put(key: str, data: dict[str, Any], ttl_seconds: int) -> None:
    KeyModel(key, data=data, expiresAt=int(time.time()) + ttl_seconds).save()


def delete(key: str) -> None:
    KeyModel(key).delete()


def take(key: str, limit: int, ttl_seconds: int) -> bool:
    """Count one use of `key` unless it has reached `limit` (a fixed-window rate limit: one conditional ADD);
    False when the limit is reached."""
    item = KeyModel(key)
    try:
        item.update(
            actions=[KeyModel.value.add(1), KeyModel.expiresAt.set(int(time.time()) + ttl_seconds)],
            condition=KeyModel.value.does_not_exist() | (KeyModel.value < limit),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
