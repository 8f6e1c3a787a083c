"""The invoker queue: one small message per run, sent in batches of 10 with per-message delays."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from chalicelib.clock import now_ms
from chalicelib.codes import Trigger, trigger_of
from chalicelib.settings import get_settings

log = logging.getLogger(__name__)
MAX_DELAY_SECONDS = 900
BATCH = 10


@dataclass(frozen=True)
class RunMessage:
    """What the invoker needs to run one slot: (job, slot), why it runs, and when it was sent."""

    job_id: int
    slot: int
    trigger: Trigger = "schedule"
    application_id: int | None = None  # a run dropped because its job is gone is still counted for its application
    dispatched_at: int | None = None
    due_at: int | None = None  # a retry: when its backoff ends (lateness counts from then, not from the slot)
    missed: int | None = None  # a misfire run: how many slots before it were missed
    timeout: int | None = None  # the job's timeout in seconds: how long the message is held while it runs
    planned_at: int | None = None  # a jittered slot: when its run starts (delays count to it)

    @property
    def starts_at(self) -> int:
        return self.planned_at if self.planned_at is not None else self.slot

    @property
    def first_attempt(self) -> bool:
        """A scheduled slot's own message (not a retry's, not a manual run's): its run is claimed as it starts."""
        return self.trigger == "schedule" and self.due_at is None

    def encode(self) -> str:
        body = {"v": 2, "jobId": self.job_id, "slot": self.slot, "trigger": self.trigger, "app": self.application_id,
                "dispatchedAt": self.dispatched_at, "dueAt": self.due_at, "missed": self.missed,
                "timeout": self.timeout, "plannedAt": self.planned_at}  # fmt: skip
        return json.dumps({key: value for key, value in body.items() if value is not None})

    @classmethod
    def decode(cls, body: str) -> RunMessage:
        data = json.loads(body)

        def number(name: str) -> int | None:
            return int(data[name]) if data.get(name) is not None else None

        return cls(int(data["jobId"]), int(data["slot"]), trigger_of(data.get("trigger", "schedule")), number("app"),
                   number("dispatchedAt"), number("dueAt"), number("missed"), number("timeout"),
                   number("plannedAt"))  # fmt: skip


@dataclass(frozen=True)
class ShardMessage:
    """One due-index shard of a fanned-out tick (TICK_FANOUT), for the invoker function to dispatch."""

    shard: int
    at: int

    def encode(self) -> str:
        return json.dumps({"v": 1, "kind": "tick-shard", "shard": self.shard, "at": self.at})


@dataclass(frozen=True)
class ResumeMessage:
    """A job paused until `until`: the engine resumes it then (if it is still paused until that time)."""

    job_id: int
    until: int

    def encode(self) -> str:
        return json.dumps({"v": 1, "kind": "resume", "jobId": self.job_id, "until": self.until})


@dataclass(frozen=True)
class BackfillMessage:
    """The next minute's step of a backfill's paced dispatch."""

    backfill_id: int

    def encode(self) -> str:
        return json.dumps({"v": 1, "kind": "backfill", "backfill": self.backfill_id})


@dataclass(frozen=True)
class AlertMessage:
    """One alert to deliver (`body`: as a webhook channel receives it): to every channel of its application that
    lists its type, or, for a retry, to the one channel whose delivery failed (`channel_id`, `attempt`)."""

    alert_id: str
    application_id: int
    body: dict[str, Any]
    channel_id: int | None = None
    attempt: int = 1

    def encode(self) -> str:
        return json.dumps({"v": 1, "kind": "alert", "id": self.alert_id, "app": self.application_id,
                           "alert": self.body, "channel": self.channel_id, "attempt": self.attempt})  # fmt: skip

    @classmethod
    def decode(cls, data: dict[str, Any]) -> AlertMessage:
        channel = data.get("channel")
        return cls(str(data["id"]), int(data["app"]), dict(data["alert"]), int(channel) if channel else None,
                   int(data.get("attempt", 1)))  # fmt: skip


EngineMessage = ShardMessage | ResumeMessage | BackfillMessage  # the engine's own work, routed back to it


def decode(body: str) -> RunMessage | EngineMessage | AlertMessage:
    """A message of the invoker queue: a run, an alert, or the engine's own (a tick's shard, a paused job to
    resume, a backfill's step)."""
    data = json.loads(body)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "tick-shard":
        return ShardMessage(int(data["shard"]), int(data["at"]))
    if kind == "resume":
        return ResumeMessage(int(data["jobId"]), int(data["until"]))
    if kind == "backfill":
        return BackfillMessage(int(data["backfill"]))
    if kind == "alert":
        return AlertMessage.decode(data)
    return RunMessage.decode(body)


Message = RunMessage | EngineMessage | AlertMessage
M = TypeVar("M", RunMessage, ShardMessage, ResumeMessage, BackfillMessage, AlertMessage, Message)


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
    """Whole seconds to hold the message: never late (floor), the invoker waits out the remainder (and the
    DELIVERY_LEAD_SECONDS it is asked to arrive early by)."""
    lead = get_settings().delivery_lead_seconds
    return max(0, min(MAX_DELAY_SECONDS, (slot_ms - now_ms) // 1000 - lead))


def send(messages: Sequence[tuple[M, int]]) -> list[M]:
    """Send (message, delay seconds) pairs in batches of 10; returns the messages that failed."""
    failed: list[M] = []
    for start in range(0, len(messages), BATCH):
        failed.extend(_send_batch(messages[start : start + BATCH]))
    return failed


def send_for_slots(messages: list[RunMessage], pool: Executor | None = None) -> list[RunMessage]:
    """Send runs to become visible on their slot's second, nearest slot first, side by side on `pool` when given.
    Each batch's delays are taken from the clock as it goes out, so the last batches of a long tick are not late
    by the tick's duration."""
    ordered = sorted(messages, key=lambda message: message.starts_at)
    chunks = [ordered[start : start + BATCH] for start in range(0, len(ordered), BATCH)]

    def send_chunk(chunk: list[RunMessage]) -> list[RunMessage]:
        now = now_ms()
        return _send_batch([(message, delay_for(message.starts_at, now)) for message in chunk])

    results = pool.map(send_chunk, chunks) if pool is not None else map(send_chunk, chunks)
    return [message for failed in results for message in failed]


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


def change_visibility(entries: Sequence[tuple[str, int]]) -> None:
    """Set how long each received message stays invisible (receipt handle, seconds), in batches of 10: a run's
    message comes back soon after its job's timeout if its invoker dies, not after the queue's 16 minutes."""
    for start in range(0, len(entries), BATCH):
        chunk = [{"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                 for i, (receipt, seconds) in enumerate(entries[start : start + BATCH])]  # fmt: skip
        try:
            client().change_message_visibility_batch(QueueUrl=queue_url(), Entries=chunk)
        except Exception:
            log.warning("could not change the visibility of %d messages", len(chunk), exc_info=True)


def counts() -> dict[str, int]:
    """The queue's approximate sizes: ready (visible), delayed (upcoming dispatched slots), in flight."""
    names = {"ApproximateNumberOfMessages": "ready", "ApproximateNumberOfMessagesDelayed": "delayed",
             "ApproximateNumberOfMessagesNotVisible": "inFlight"}  # fmt: skip
    attributes = client().get_queue_attributes(QueueUrl=queue_url(), AttributeNames=list(names))["Attributes"]
    return {label: int(attributes.get(name, 0)) for name, label in names.items()}


def delete(receipts: list[str], url: str | None = None) -> None:
    """Delete handled messages in batches of 10 (used when a batch partly fails), from the invoker queue or the
    queue named."""
    receipts = list(dict.fromkeys(receipts))
    for start in range(0, len(receipts), BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts[start : start + BATCH])]
        client().delete_message_batch(QueueUrl=url or queue_url(), Entries=entries)
