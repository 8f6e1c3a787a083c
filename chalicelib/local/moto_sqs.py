"""moto's SQS (and its server's request routing), made to hold fifteen minutes of dispatched slots without slowing
down (semantics unchanged).

moto walks every message of a queue several times per message sent or received: `Queue.attributes` recounts the
three approximate sizes (read on every send), `Queue.messages` asks each message for the time twice, a delete or a
visibility change looks its receipt up by walking the queue twice, and a long poll re-walks the queue once a second
whatever is due. The engine keeps up to DISPATCH_WINDOW_SECONDS of slots in the queue (thousands of delayed
messages), so `make run`, the tests and the bench all use these versions (shared/notes/local-aws-limits.md):

- the approximate sizes are counted in one pass, at most once a second per queue (SQS's own are approximate and
  lag by design), not three times for every message sent or received;
- the visible messages are found with the clock read once;
- a receipt handle finds its message through an index (rebuilt when a new handle misses it: once per received
  batch), not by walking the queue for every delete or visibility change;
- a long poll sleeps until the next message becomes visible (or a new one arrives), not a second at a time: an
  idle stack costs next to nothing, and a delayed message is handed out on its millisecond;
- the server lists moto's service folders once, not on every request (a listdir and 174 isdir calls, ~1 ms of
  CPU per request under the dispatcher's lock);
- a long poll waits here, around moto's receive, so `close_receives()` ends every waiting poll at once when the
  stack stops (moto's own loop would hold each poller for the rest of its wait).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

COUNT_TTL_SECONDS = 1.0
_original_change_visibility: Any = None
_original_receive: Any = None
_closing = threading.Event()
_waiting: weakref.WeakSet[Any] = weakref.WeakSet()  # queues a long poll waits on


def _ready(queue: Any, now: float) -> list[Any]:
    return [m for m in queue._messages if now > m.visible_at and now >= m.delayed_until]


def _sizes(queue: Any) -> tuple[int, int, int]:
    """(visible, delayed, not visible), counted in one pass and kept for a second."""
    cached = getattr(queue, "_sizes_cache", None)
    if cached is not None and time.monotonic() - cached[0] < COUNT_TTL_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    now = time.time() * 1000
    ready = delayed = hidden = 0
    for message in queue._messages:
        visible = now > message.visible_at
        is_delayed = now < message.delayed_until
        hidden += not visible
        delayed += is_delayed
        ready += visible and not is_delayed
    sizes = (ready, delayed, hidden)
    queue._sizes_cache = (time.monotonic(), sizes)
    return sizes


def _next_ready_in(queue: Any, now: float) -> float | None:
    """Seconds until the next message becomes receivable, or None when the queue is empty."""
    moments = [max(m.visible_at + 1, m.delayed_until) for m in queue._messages]
    return max(0.0, (min(moments) - now) / 1000) if moments else None


def _wait_for_messages(queue: Any, timeout: float) -> None:
    _waiting.add(queue)
    with queue._messages_lock:
        now = time.time() * 1000
        if _closing.is_set() or _ready(queue, now):
            return
        until_next = _next_ready_in(queue, now)
        wait = timeout if until_next is None else min(timeout, until_next + 0.002)
        queue._messages_lock.wait(wait)  # add_message notifies: a new message wakes the poll at once


def _receive_message(backend: Any, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: int,
                     message_attribute_names: list[str] | None = None) -> list[Any]:  # fmt: skip
    """moto's receive without its wait, with the long poll done here: it ends when a message is ready, the wait is
    over, or the stack closes."""
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while not _closing.is_set():
        found: list[Any] = _original_receive(backend, queue_name, count, 0, visibility_timeout,
                                             message_attribute_names)  # fmt: skip
        remaining = deadline - time.monotonic()
        if found or remaining <= 0:
            return found
        backend.get_queue(queue_name).wait_for_messages(remaining)
    return []


def close_receives() -> None:
    """Every long poll now waiting, and every receive from now on, answers at once with no message."""
    _closing.set()
    for queue in list(_waiting):
        with queue._messages_lock:
            queue._messages_lock.notify_all()


def message_of_receipt(queue: Any, receipt: str) -> Any:
    """The message of `queue` that has (or had) this receipt handle, or None."""
    index = getattr(queue, "_receipt_index", None)
    message = index.get(receipt) if index is not None else None
    if message is None:  # a handle made since the index was built: build it again, once per received batch
        index = {handle: m for m in queue._messages for handle in m.all_receipt_handles}
        queue._receipt_index = index
        message = index.get(receipt)
    return message


def _delete_message(queue: Any, receipt_handle: str) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    if receipt_handle in queue.deleted_messages:
        return  # already deleted: accepted again, as moto does
    message = message_of_receipt(queue, receipt_handle)
    if message is None or all(m is not message for m in queue._messages):
        raise ReceiptHandleIsInvalid()
    queue.pending_messages.discard(message)
    queue.deleted_messages.update(message.all_receipt_handles)
    queue._messages.remove(message)  # by identity: Message defines no __eq__


class _Narrowed:
    """A queue whose messages, as moto's change_message_visibility walks them, are only the one its receipt
    names: its walk is one step, and its checks and errors stay moto's own."""

    def __init__(self, queue: Any, message: Any) -> None:
        self._queue, self._message = queue, message

    @property
    def _messages(self) -> list[Any]:
        return [self._message]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


class _OneQueue:
    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def get_queue(self, name: str) -> Any:
        return self._queue


def _change_message_visibility(backend: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
    queue = backend.get_queue(queue_name)
    message = message_of_receipt(queue, receipt_handle)
    if message is not None:
        backend = _OneQueue(_Narrowed(queue, message))
    _original_change_visibility(backend, queue_name, receipt_handle, visibility_timeout)


def _cache_module_list() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())  # the installed package does not change while it runs
    backends.list_of_moto_modules = lambda: modules


def make_sqs_fast() -> None:
    """Patch moto's SQS in this process (idempotent)."""
    global _original_change_visibility, _original_receive
    from moto.sqs.models import Queue, SQSBackend

    if getattr(Queue, "_scheduler_fast", False):
        return
    _original_change_visibility = SQSBackend.change_message_visibility
    SQSBackend.change_message_visibility = _change_message_visibility
    _original_receive = SQSBackend.receive_message
    SQSBackend.receive_message = _receive_message
    Queue.delete_message = _delete_message
    Queue.messages = property(lambda queue: _ready(queue, time.time() * 1000))
    Queue.approximate_number_of_messages = property(lambda queue: _sizes(queue)[0])
    Queue.approximate_number_of_messages_delayed = property(lambda queue: _sizes(queue)[1])
    Queue.approximate_number_of_messages_not_visible = property(lambda queue: _sizes(queue)[2])
    Queue.wait_for_messages = _wait_for_messages
    Queue._scheduler_fast = True
    _cache_module_list()
