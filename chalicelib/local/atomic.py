"""DynamoDB applies each conditional write atomically; moto checks the condition and then writes, without a
lock, so two threads can both pass one `attribute_not_exists` (seen: two concurrent ticks over 1,000 jobs
claimed one slot twice, once in a few runs). The local stack and the tests run moto in this process, so they
serialize moto's DynamoDB writes to keep the guarantee the engine's exactly-once rests on.

UpdateItem hands back the live item, which moto turns into its answer after the write returns: a copy made
under the lock keeps that answer the write's own (else two concurrent counter increments, `allocate_ids`, can
both read the later value: two jobs with one id).

The same lock orders every change `make run` keeps (chalicelib/local/capture.py): a write's observer runs under
it, after the write (a transaction's once, with every item it touched, and only when it commits), so the order
of the journal is the order in which moto applied the writes."""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
lock = threading.RLock()

# (backend, [(table name, the item or its key)]): called under the lock once a write (or a transaction) is done
Observer = Callable[[Any, list[tuple[str, dict[str, Any]]]], None]
_observer: Observer | None = None
_local = threading.local()


def observe_writes(observer: Observer | None) -> None:
    """Call `observer` after every committed DynamoDB write from now on (None: stop)."""
    global _observer
    _observer = observer


def _touched(local: Any) -> list[tuple[str, dict[str, Any]]]:
    if not hasattr(local, "touched"):
        local.touched, local.depth = [], 0
    touched: list[tuple[str, dict[str, Any]]] = local.touched
    return touched


def _target(args: tuple[Any, ...], kwargs: dict[str, Any], second: str) -> tuple[str, dict[str, Any]]:
    """(table name, item or key) of a put_item(table_name, item_attrs), update_item or delete_item(table_name, key)."""
    table = args[0] if args else kwargs["table_name"]
    keys = args[1] if len(args) > 1 else kwargs[second]
    return table, keys


def make_dynamodb_writes_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        method = getattr(DynamoDBBackend, name, None)
        if method is None or getattr(method, "_atomic", False):
            continue

        def atomic(self: Any, *args: Any, __method: Any = method, __name: str = name, **kwargs: Any) -> Any:
            with lock:
                touched = _touched(_local)
                _local.depth += 1
                try:
                    result = __method(self, *args, **kwargs)
                    if __name != "transact_write_items":  # its writes are the put/update/delete calls inside it
                        touched.append(_target(args, kwargs, "item_attrs" if __name == "put_item" else "key"))
                    if _local.depth == 1 and touched and _observer is not None:
                        _observer(self, list(touched))
                    return copy.deepcopy(result) if __name == "update_item" else result
                finally:
                    _local.depth -= 1
                    if _local.depth == 0:
                        touched.clear()  # a transaction that failed left nothing: its writes were rolled back

        functools.update_wrapper(atomic, method)
        atomic._atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)
