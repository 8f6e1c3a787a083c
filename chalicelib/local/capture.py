"""What `make run` keeps of the embedded AWS, taken from moto as it changes and put back into it at start.

Kept, for the stack's account and region: every DynamoDB item of the tables that exist, every message of the SQS
queues (body, receive count, and the moments it becomes visible and stops being delayed, so a delay runs on across a
restart), and the EventBridge rules of the buses, with their targets. Tables, queues and buses themselves come from
infra/template.yaml at each start; records for others (made by hand in the embedded AWS) are not restored.

How: moto's own model methods are wrapped. A DynamoDB write's observer (chalicelib/local/atomic.py) runs under the
write lock once the write (or a whole transaction) has committed, and journals the image of each item it touched; an
SQS message added, deleted or purged and a rule changed take the same lock and journal themselves. So the journal's
order is the order moto applied the changes in, across the three services. Before the embedded AWS answers a call
that made changes, they are fsynced (`BaseResponse.call_action`): what a client was told is written, is.

The state keeps each item's JSON as last journaled; a snapshot is then a copy of that map made under the lock
(milliseconds at 100,000 items), written out after the lock is released.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.local import atomic
from chalicelib.local.journal import Journal

ItemKey = tuple[Any, Any]  # moto's (hash DynamoType, range DynamoType or None)
RULE_CHANGES = ("put_rule", "delete_rule", "enable_rule", "disable_rule", "put_targets", "remove_targets")
_active: State | None = None
_calls = threading.local()  # did this thread's current AWS call change anything (then it waits for the fsync)


def _base64(value: Any) -> str:
    """moto holds a binary value as the client's base64 text or, after some paths (transactions, nested maps), as
    bytes; both read back the same, so the JSON keeps the text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not kept")


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_base64)


def message_image(message: Any) -> dict[str, Any]:
    """An SQS message as the snapshot and journal keep it (moto's fields, in epoch milliseconds)."""
    return {"id": message.id, "body": message.body, "attributes": message.message_attributes or None,
            "system": message.system_attributes or None, "sender": message.sender_id,
            "sentAt": message.sent_timestamp, "firstReceivedAt": message.approximate_first_receive_timestamp,
            "receiveCount": message.approximate_receive_count, "deduplicationId": message.deduplication_id,
            "groupId": message.group_id, "sequenceNumber": message.sequence_number,
            "visibleAt": message.visible_at, "delayedUntil": message.delayed_until}  # fmt: skip


def rule_image(rule: Any) -> dict[str, Any]:
    return {"description": rule.description, "pattern": rule.event_pattern._raw_pattern,
            "schedule": rule.scheduled_expression, "role": rule.role_arn, "state": rule.state,
            "managedBy": rule.managed_by, "targets": list(rule.targets)}  # fmt: skip


@dataclass
class Cut:
    """The kept state at journal record `seq`, taken under the write lock, as snapshot lines to write."""

    seq: int
    items: dict[str, list[str]]
    messages: list[tuple[str, dict[str, Any]]]
    rules: list[tuple[str, str, dict[str, Any]]]

    def lines(self) -> Iterable[str]:
        for table, texts in self.items.items():
            prefix = f'{{"kind":"item","table":{_text(table)},"item":'
            for text in texts:
                yield f"{prefix}{text}}}"
        for queue, image in self.messages:
            yield _text({"kind": "message", "queue": queue, "message": image})
        for bus, name, rule in self.rules:
            yield _text({"kind": "rule", "bus": bus, "name": name, "rule": rule})

    def counts(self) -> dict[str, Any]:
        queues: dict[str, int] = {}
        for queue, _ in self.messages:
            queues[queue] = queues.get(queue, 0) + 1
        return {"items": {table: len(texts) for table, texts in self.items.items()}, "messages": queues,
                "rules": len(self.rules)}  # fmt: skip


@dataclass
class State:
    """The kept state of one account and region, and the journal its changes go to (None while it is restored)."""

    account_id: str
    region: str
    journal: Journal | None = None
    seq: int = 0  # the last record restored (while no journal is open)
    items: dict[str, dict[ItemKey, str]] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)  # tables, queues and buses a record named that do not exist
    _queues: dict[str, dict[str, Any]] = field(default_factory=dict)  # while restoring: queue -> id -> Message

    # -- moto's backends ------------------------------------------------------------------------------------------

    def dynamodb(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account_id][self.region]

    def sqs(self) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account_id][self.region]

    def events(self) -> Any:
        from moto.events.models import events_backends

        return events_backends[self.account_id][self.region]

    def owns(self, account_id: str, region: str) -> bool:
        return self.journal is not None and account_id == self.account_id and region == self.region

    # -- changes, journaled (called under the write lock) -----------------------------------------------------------

    def _journal(self, record: dict[str, Any] | str) -> None:
        assert self.journal is not None
        self.journal.append(record)
        _calls.wrote = True

    def items_written(self, backend: Any, touched: list[tuple[str, dict[str, Any]]]) -> None:
        for table_name, keys in touched:
            table = backend.get_table(table_name)
            hash_key, range_key = backend.get_keys_value(table, keys)
            item = table.get_item(hash_key, range_key)
            image = _text(item.to_json()["Attributes"]) if item is not None else None
            key = _text([hash_key.to_json(), range_key.to_json() if range_key is not None else None])
            stored = self.items.setdefault(table.name, {})
            if image is None:
                stored.pop((hash_key, range_key), None)
            else:
                stored[(hash_key, range_key)] = image
            self._journal(f'{{"kind":"item","table":{_text(table.name)},"key":{key},"item":{image or "null"}}}')

    def message_added(self, queue: Any, message: Any) -> None:
        self._journal({"kind": "message", "queue": queue.name, "message": message_image(message)})

    def message_deleted(self, queue: Any, message_id: str) -> None:
        self._journal({"kind": "message-deleted", "queue": queue.name, "id": message_id})

    def queue_purged(self, queue: Any) -> None:
        self._journal({"kind": "queue-purged", "queue": queue.name})

    def rule_changed(self, bus: str, name: str, rule: Any) -> None:
        self._journal({"kind": "rule", "bus": bus, "name": name, "rule": rule_image(rule) if rule else None})

    # -- a consistent cut ---------------------------------------------------------------------------------------------

    def cut(self) -> Cut:
        """The state at the last journal record, taken under the write lock; the journal goes on in a new file."""
        with atomic.lock:
            seq = self.journal.switch() if self.journal is not None else self.seq
            items = {table: list(stored.values()) for table, stored in self.items.items()}
            messages = [(queue.name, message_image(message)) for queue in list(self.sqs().queues.values())
                        for message in list(queue._messages)]  # fmt: skip
            rules = [(bus.name, rule.name, rule_image(rule)) for bus in list(self.events().event_buses.values())
                     for rule in list(bus.rules.values())]  # fmt: skip
        return Cut(seq, items, messages, rules)

    def show_again(self, queue_name: str, wanted: Callable[[str], bool]) -> int:
        """Make the messages of a queue whose body is `wanted` receivable now (their receiver is gone)."""
        shown = 0
        with atomic.lock:
            queue = self.sqs().queues.get(queue_name)
            for message in list(queue._messages) if queue is not None else []:
                if wanted(message.body):
                    message.visible_at = 0.0
                    shown += 1
        return shown

    # -- putting records back ------------------------------------------------------------------------------------------

    def apply(self, record: dict[str, Any], item_text: str | None = None) -> None:
        """Put one snapshot line or journal record back into moto (before the journal is open)."""
        kind = record.get("kind")
        if kind == "item":
            self._put_item(record["table"], record.get("item"), record.get("key"), item_text)
        elif kind == "message":
            self._add_message(record["queue"], record["message"])
        elif kind == "message-deleted":
            self._restoring(record["queue"]).pop(record["id"], None)
        elif kind == "queue-purged":
            self._restoring(record["queue"]).clear()
        elif kind == "rule":
            self._put_rule(record["bus"], record["name"], record.get("rule"))
        else:
            raise ValueError(f"unknown record kind {kind!r}")

    def _put_item(self, table_name: str, item: dict[str, Any] | None, key: list[Any] | None,
                  text: str | None) -> None:  # fmt: skip
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.dynamodb().tables.get(table_name)
        if table is None:
            self.skipped.add(f"table {table_name}")
            return
        stored = self.items.setdefault(table_name, {})
        if item is not None:
            written = _put_valid_item(table, item)
            stored[(written.hash_key, written.range_key)] = text if text is not None else _text(item)
            return
        assert key is not None, "a deleted item's record names its key"
        hash_key, range_key = DynamoType(key[0]), DynamoType(key[1]) if key[1] is not None else None
        table.delete_item(hash_key, range_key)
        stored.pop((hash_key, range_key), None)

    def _restoring(self, queue_name: str) -> dict[str, Any]:
        if queue_name not in self._queues:
            self._queues[queue_name] = {}
        return self._queues[queue_name]

    def _add_message(self, queue_name: str, image: dict[str, Any]) -> None:
        from moto.sqs.models import Message

        for messages in self._queues.values():  # moto moves a message to its dead-letter queue with the same id
            messages.pop(image["id"], None)
        message = Message(image["id"], image["body"], image.get("system"))
        message.message_attributes = image.get("attributes") or {}
        message.sender_id = image.get("sender") or message.sender_id
        message.sent_timestamp = image.get("sentAt")
        message.approximate_first_receive_timestamp = image.get("firstReceivedAt")
        message.approximate_receive_count = int(image.get("receiveCount") or 0)
        message.deduplication_id = image.get("deduplicationId")
        message.group_id = image.get("groupId")
        message.sequence_number = image.get("sequenceNumber")
        message.visible_at = float(image.get("visibleAt") or 0)
        message.delayed_until = float(image.get("delayedUntil") or 0)
        self._restoring(queue_name)[message.id] = message

    def _put_rule(self, bus_name: str, name: str, image: dict[str, Any] | None) -> None:
        events = self.events()
        bus = events.event_buses.get(bus_name)
        if bus is None:
            self.skipped.add(f"event bus {bus_name}")
            return
        if image is None:
            bus.rules.pop(name, None)
            return
        rule = events.put_rule(name, description=image.get("description"), event_bus_arn=bus_name,
                               event_pattern=image.get("pattern"), role_arn=image.get("role"),
                               scheduled_expression=image.get("schedule"), state=image.get("state"),
                               managed_by=image.get("managedBy"))  # fmt: skip
        rule.targets = list(image.get("targets") or [])

    def finish_restore(self) -> None:
        """Hand the restored messages to their queues (kept apart while records came in, for speed)."""
        queues = self.sqs().queues
        for name, messages in self._queues.items():
            if name not in queues:
                if messages:
                    self.skipped.add(f"queue {name}")
                continue
            queues[name]._messages = list(messages.values())
        self._queues = {}


def _put_valid_item(table: Any, attrs: dict[str, Any]) -> Any:
    """Put an item moto already accepted once, without checking it again: moto's Item re-sums the item's size on
    each attribute it sets (quadratic; most of a restore's time), so the attributes are set as moto's own
    `Item.__deepcopy__` sets them."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    item = Item.__new__(Item)
    item.hash_key = DynamoType(attrs[table.hash_key_attr])
    item.range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    item.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(item.attrs)
    for name, value in attrs.items():
        dict.__setitem__(item.attrs, name, DynamoType(value))
    if item.range_key is None:
        table.items[item.hash_key] = item
    else:
        table.items[item.hash_key][item.range_key] = item
    return item


# --- the hooks ------------------------------------------------------------------------------------------------------


def activate(state: State | None) -> None:
    """Journal the changes of `state`'s account and region from now on (None: stop)."""
    global _active
    install()
    _active = state
    atomic.observe_writes(_observe_items if state is not None else None)


def _observe_items(backend: Any, touched: list[tuple[str, dict[str, Any]]]) -> None:
    state = _active
    if state is not None and state.owns(backend.account_id, backend.region_name):
        state.items_written(backend, touched)


def _locked(method: Callable[..., Any], after: Callable[..., None]) -> Callable[..., Any]:
    """`method` under the write lock, then `after(result, *args, **kwargs)` while the lock is still held."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with atomic.lock:
            result = method(*args, **kwargs)
            after(result, *args, **kwargs)
            return result

    wrapper._kept = True  # type: ignore[attr-defined]
    return wrapper


def _after_add(_: Any, queue: Any, message: Any) -> None:
    state = _active
    if state is None or not state.owns(queue.account_id, queue.region):
        return
    if queue._messages and queue._messages[-1] is message:  # a FIFO queue may drop it as a duplicate
        state.message_added(queue, message)


def _delete_message(method: Callable[..., Any]) -> Callable[..., Any]:
    from chalicelib.local.moto_sqs import message_of_receipt

    @functools.wraps(method)
    def wrapper(queue: Any, receipt_handle: str) -> Any:
        with atomic.lock:
            known = receipt_handle not in queue.deleted_messages
            message = message_of_receipt(queue, receipt_handle) if known else None
            method(queue, receipt_handle)
            state = _active
            if message is not None and state is not None and state.owns(queue.account_id, queue.region):
                state.message_deleted(queue, message.id)

    wrapper._kept = True  # type: ignore[attr-defined]
    return wrapper


def _after_purge(_: Any, backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> None:
    state = _active
    if state is not None and state.owns(backend.account_id, backend.region_name):
        state.queue_purged(backend.get_queue(queue_name))


def _rule_change(method: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(method)

    def after(_: Any, backend: Any, *args: Any, **kwargs: Any) -> None:
        state = _active
        if state is None or not state.owns(backend.account_id, backend.region_name):
            return
        bound = signature.bind(backend, *args, **kwargs).arguments
        bus_name = backend._normalize_event_bus_arn(bound.get("event_bus_arn"))
        bus = backend.event_buses.get(bus_name)
        if bus is not None:
            state.rule_changed(bus_name, bound["name"], bus.rules.get(bound["name"]))

    return _locked(method, after)


def _call_action(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        _calls.wrote = False
        try:
            return method(self)
        finally:
            state = _active
            if _calls.wrote and state is not None and state.journal is not None:
                state.journal.sync()  # the answer leaves only once its changes are on disk
            _calls.wrote = False

    wrapper._kept = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Wrap moto's model methods that change kept state (idempotent; they do nothing while no state is active)."""
    from moto.core.responses import BaseResponse
    from moto.events.models import EventsBackend
    from moto.sqs.models import Queue, SQSBackend

    from chalicelib.local.atomic import make_dynamodb_writes_atomic
    from chalicelib.local.moto_sqs import make_sqs_fast

    if getattr(BaseResponse.call_action, "_kept", False):
        return
    make_dynamodb_writes_atomic()
    make_sqs_fast()
    Queue.add_message = _locked(Queue.add_message, _after_add)
    Queue.delete_message = _delete_message(Queue.delete_message)
    SQSBackend.purge_queue = _locked(SQSBackend.purge_queue, _after_purge)
    for name in RULE_CHANGES:
        setattr(EventsBackend, name, _rule_change(getattr(EventsBackend, name)))
    BaseResponse.call_action = _call_action(BaseResponse.call_action)
