"""DynamoDB applies each conditional write atomically; moto checks the condition and then writes, without a
lock, so two threads can both pass one `attribute_not_exists` (seen: two concurrent ticks over 1,000 jobs
claimed one slot twice, once in a few runs). The local stack and the tests run moto in this process, so they
serialize moto's DynamoDB writes to keep the guarantee the engine's exactly-once rests on."""

from __future__ import annotations

import functools
import threading
from typing import Any

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def make_dynamodb_writes_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        method = getattr(DynamoDBBackend, name, None)
        if method is None or getattr(method, "_atomic", False):
            continue

        def atomic(self: Any, *args: Any, __method: Any = method, **kwargs: Any) -> Any:
            with _lock:
                return __method(self, *args, **kwargs)

        functools.update_wrapper(atomic, method)
        atomic._atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)
