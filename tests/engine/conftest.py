"""Drive the engine the way AWS does: the tick handler, the queue, the invoker handler."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.clock import now_ms
from chalicelib.engine import queue
from chalicelib.engine.tick import TickReport, tick
from chalicelib.invoker import run as invoker
from chalicelib.settings import get_settings
from chalicelib.store.models import ExecutionModel, JobModel


class Engine:
    def __init__(self) -> None:
        queue.reset()
        self.sqs = boto3.client("sqs")
        self.url = queue.queue_url()

    def tick(self, at: int | None = None) -> TickReport:
        return tick(at)

    def make_due(self, job_id: int, in_ms: int = 150) -> int:
        """Move a job's next slot to just ahead of now (tests cannot wait for the next minute)."""
        slot = now_ms() + in_ms
        JobModel(job_id).update(
            actions=[JobModel.nextRunAt.set(slot), JobModel.dueShard.set(job_id % get_settings().due_shards)]
        )
        return slot

    def receive(self, wait: int = 0) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return records
            records.extend(
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]} for m in messages
            )
            wait = 0

    def deliver(self, records: list[dict[str, Any]], resolver: Any = None) -> list[dict[str, Any]]:
        """The invoker on a batch; like Lambda, deletes the batch when the handler returns."""
        failed = invoker.handle_records(records, resolver)
        done = [r["receiptHandle"] for r in records if r not in failed]
        if done:
            queue.delete(done)
        return failed

    def run_due(self, resolver: Any = None) -> list[dict[str, Any]]:
        self.tick()
        return self.deliver(self.receive(), resolver)

    def executions(self, job_id: int) -> list[ExecutionModel]:
        return list(ExecutionModel.query(job_id, consistent_read=True))


@pytest.fixture
def engine(aws: None) -> Engine:
    return Engine()
