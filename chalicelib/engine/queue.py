"""The invoker queue: one small message per run, sent in batches of 10 with per-message delays."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from chalicelib.clock import now_ms
from chalicelib.settings import get_settings

log = logging.getLogger(__name__)
MAX_DELAY_SECONDS = 900
BATCH = 10


@dataclass(frozen=True)
class RunMessage:
    """What the invoker needs to find its execution: (job, slot) and why it runs."""

    job_id: int
    slot: int
    trigger: str = "schedule"
    execution_id: int | None = None
    dispatched_at: int | None = None
    due_at: int | None = None  # a retry: when its backoff ends (lateness counts from then, not from the slot)

    def encode(self) -> str:
        body = {"v": 1, "jobId": self.job_id, "slot": self.slot, "trigger": self.trigger}
        return json.dumps({**body, "executionId": self.execution_id, "dispatchedAt": self.dispatched_at,
                           "dueAt": self.due_at})  # fmt: skip

    @classmethod
    def decode(cls, body: str) -> RunMessage:
        data = json.loads(body)
        execution_id, dispatched_at, due_at = data.get("executionId"), data.get("dispatchedAt"), data.get("dueAt")
        return cls(
            int(data["jobId"]),
            int(data["slot"]),
            str(data.get("trigger", "schedule")),
            int(execution_id) if execution_id is not None else None,
            int(dispatched_at) if dispatched_at is not None else None,
            int(due_at) if due_at is not None else None,
        )


@dataclass(frozen=True)
class ShardMessage:
    """One due-index shard of a fanned-out tick (TICK_FANOUT), for the invoker function to dispatch."""

    shard: int
    at: int

    def encode(self) -> str:
        return json.dumps({"v": 1, "kind": "tick-shard", "shard": self.shard, "at": self.at})


def decode(body: str) -> RunMessage | ShardMessage:
    """A message of the invoker queue: a run, or a shard of a fanned-out tick."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("kind") == "tick-shard":
        return ShardMessage(int(data["shard"]), int(data["at"]))
    return RunMessage.decode(body)


Message = RunMessage | ShardMessage
M = TypeVar("M", RunMessage, ShardMessage, Message)


@lru_cache(maxsize=1)
def client() -> Any:
    settings = get_settings()
    config = Config(connect_timeout=3, read_timeout=25, retries={"max_attempts": 4, "mode": "standard"},
                    max_pool_connections=32)  # fmt: skip
    return boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config)


@lru_cache(maxsize=1)
def queue_url() -> str:
    settings = get_settings()
    if settings.invoker_queue_url:
        return settings.invoker_queue_url
    return str(client().get_queue_url(QueueName=settings.invoker_queue_name)["QueueUrl"])


def reset() -> None:
    client.cache_clear()
    queue_url.cache_clear()


def delay_for(slot_ms: int, now_ms: int) -> int:
    """Whole seconds to hold the message: never late (floor), the invoker waits out the remainder."""
    return max(0, min(MAX_DELAY_SECONDS, (slot_ms - now_ms) // 1000))


def send(messages: Sequence[tuple[M, int]]) -> list[M]:
    """Send (message, delay seconds) pairs in batches of 10; returns the messages that failed."""
    failed: list[M] = []
    for start in range(0, len(messages), BATCH):
        failed.extend(_send_batch(messages[start : start + BATCH]))
    return failed


def send_for_slots(messages: list[RunMessage]) -> list[RunMessage]:
    """Send runs to become visible on their slot's second, nearest slot first. Each batch's delays are taken
    from the clock as it goes out, so the last batches of a long tick are not late by the tick's duration."""
    ordered = sorted(messages, key=lambda message: message.slot)
    failed: list[RunMessage] = []
    for start in range(0, len(ordered), BATCH):
        now = now_ms()
        chunk = ordered[start : start + BATCH]
        failed.extend(_send_batch([(message, delay_for(message.slot, now)) for message in chunk]))
    return failed


def _send_batch(chunk: Sequence[tuple[M, int]]) -> list[M]:
    """One SendMessageBatch of up to 10; returns the messages that failed."""
    entries = [
        {"Id": str(index), "MessageBody": message.encode(), "DelaySeconds": delay}
        for index, (message, delay) in enumerate(chunk)
    ]
    try:
        response = client().send_message_batch(QueueUrl=queue_url(), Entries=entries)
    except Exception:
        log.exception("send_message_batch failed for %d messages", len(chunk))
        return [message for message, _ in chunk]
    return [chunk[int(entry["Id"])][0] for entry in response.get("Failed", [])]


def delete(receipts: list[str]) -> None:
    """Delete handled messages in batches of 10 (used when a batch partly fails)."""
    receipts = list(dict.fromkeys(receipts))
    for start in range(0, len(receipts), BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts[start : start + BATCH])]
        client().delete_message_batch(QueueUrl=queue_url(), Entries=entries)
