"""DynamoDB applies each conditional write atomically; moto checks the condition and then writes, without a
lock, so two threads can both pass one `attribute_not_exists` (seen: two concurrent ticks over 1,000 jobs
claimed one slot twice, once in a few runs). The local stack and the tests run moto in this process, so they
serialize moto's DynamoDB writes to keep the guarantee the engine's exactly-once rests on.

UpdateItem hands back the live item, which moto turns into its answer after the write returns: a copy made
under the lock keeps that answer the write's own (else two concurrent counter increments, `allocate_ids`, can
both read the later value: two jobs with one id)."""

from __future__ import annotations

import copy
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

        def atomic(self: Any, *args: Any, __method: Any = method, __copy: bool = name == "update_item",
                   **kwargs: Any) -> Any:  # fmt: skip
            with _lock:
                result = __method(self, *args, **kwargs)
                return copy.deepcopy(result) if __copy else result

        functools.update_wrapper(atomic, method)
        atomic._atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)
