"""Benchmarks 1-3: the tick against the floor of bare boto3 calls, its scaling with stored jobs, and the
invoker against a bare httpx call. Each pair runs in the same process against the same moto server."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from bench.meter import Meter
from chalicelib.clock import now_ms
from chalicelib.settings import get_settings

FAR = 4_102_444_800_000  # 2100-01-01: stored but not due
YEARLY = "0 0 1 1 *"
WORKERS = 16  # the tick's own thread count, so the floor gets the same parallelism


@dataclass
class Phase:
    name: str
    seconds: float
    requests: dict[str, int] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)
    items: int = 0


def job_item(job_id: int, app_id: int, next_run_at: int, base: str) -> dict[str, Any]:
    shards = get_settings().due_shards
    return {
        "id": {"N": str(job_id)}, "applicationId": {"N": str(app_id)}, "name": {"S": f"bench-{job_id}"},
        "enabled": {"BOOL": True}, "pattern": {"S": YEARLY}, "timezone": {"S": "UTC"},
        "taskType": {"S": "HttpInvokerTask"},
        "taskConfig": {"S": f'{{"endpoint": "{base}", "path": "/job/{job_id}", "method": "GET"}}'},
        "retryPolicy": {"S": '{"maxAttempts": 1}'}, "createdAt": {"N": "1700000000000"},
        "updatedAt": {"N": "1700000000000"}, "version": {"N": "1"},
        "nextRunAt": {"N": str(next_run_at)}, "dueShard": {"N": str(job_id % shards)},
    }  # fmt: skip


def batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    """BatchWriteItem, 25 requests a call, 8 threads, unprocessed items sent again."""
    client = boto3.client("dynamodb")

    def write(chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: chunk}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, [requests[i : i + 25] for i in range(0, len(requests), 25)]))


def seed(job_ids: range, app_id: int, next_run_at: int, base: str) -> None:
    """Jobs written in batches (through the API each would cost a transaction)."""
    puts = [{"PutRequest": {"Item": job_item(j, app_id, next_run_at, base)}} for j in job_ids]
    batch_write(get_settings().jobs_table, puts)


def floor_tick(horizon: int) -> int:
    """The bare calls a tick's work needs: one query per shard (paged), a conditional put per slot, batched
    sends, a conditional update per job. No models, no planning, no logging."""
    settings = get_settings()
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    from chalicelib.engine import queue

    url = queue.queue_url()

    def due(shard: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = dynamodb.query(
                TableName=settings.jobs_table, IndexName="due-index",
                KeyConditionExpression="dueShard = :s AND nextRunAt < :h",
                ExpressionAttributeValues={":s": {"N": str(shard)}, ":h": {"N": str(horizon)}}, **kwargs,
            )  # fmt: skip
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def claim(job: dict[str, Any]) -> None:
        dynamodb.put_item(
            TableName=settings.executions_table,
            Item={"jobId": job["id"], "slot": job["nextRunAt"], "id": {"N": "1"}, "status": {"S": "pending"}},
            ConditionExpression="attribute_not_exists(jobId)",
        )

    def send(chunk: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(i), "MessageBody": f'{{"jobId": {j["id"]["N"]}, "slot": {j["nextRunAt"]["N"]}}}'}
                   for i, j in enumerate(chunk)]  # fmt: skip
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def advance(job: dict[str, Any]) -> None:
        dynamodb.update_item(
            TableName=settings.jobs_table, Key={"id": job["id"]}, UpdateExpression="SET nextRunAt = :n",
            ConditionExpression="nextRunAt = :o",
            ExpressionAttributeValues={":n": {"N": str(FAR)}, ":o": job["nextRunAt"]},
        )  # fmt: skip

    with ThreadPoolExecutor(WORKERS) as pool:
        jobs = [job for jobs in pool.map(due, range(settings.due_shards)) for job in jobs]
        list(pool.map(claim, jobs))
        list(pool.map(send, [jobs[i : i + 10] for i in range(0, len(jobs), 10)]))
        list(pool.map(advance, jobs))
    return len(jobs)


def timed(meter: Meter, name: str, work: Any) -> Phase:
    mark = meter.snapshot()
    started = time.perf_counter()
    items = work()
    seconds = time.perf_counter() - started
    requests, units = meter.since(mark)
    return Phase(name, seconds, dict(requests), dict(units), items)


def tick_vs_floor(meter: Meter, due: int, stored_ids: range, app_id: int, base: str, rounds: int) -> list[Phase]:
    """Alternate floor and tick over the same `due` jobs (re-seeded due before each), `rounds` times."""
    from chalicelib.engine.tick import tick

    phases = []
    due_ids = range(stored_ids.start, stored_ids.start + due)
    for round_ in range(rounds):
        for name in ("floor", "tick"):
            now = now_ms()
            slot = now - 1_000 - round_ * 10 - (name == "tick")  # due now, a slot of its own
            seed(due_ids, app_id, slot, base)
            if name == "floor":
                phases.append(timed(meter, name, lambda now=now: floor_tick(now + 90_000)))
            else:
                phases.append(timed(meter, name, lambda now=now: tick(now).dispatched))
            forget_runs(due_ids, slot)
    return phases


def forget_runs(job_ids: range, slot: int) -> None:
    """Delete the phase's executions: no invoker runs here, and pending claims left in the in-flight index
    would have the next tick's lost-run sweep re-dispatch them inside its measurement."""
    deletes = [{"DeleteRequest": {"Key": {"jobId": {"N": str(j)}, "slot": {"N": str(slot)}}}} for j in job_ids]
    batch_write(get_settings().executions_table, deletes)


def invoker_vs_httpx(meter: Meter, app_id: int, base: str, runs: int) -> tuple[Phase, Phase, list[float]]:
    """`runs` scheduled runs through the invoker (claimed first, as the tick would) against the same number
    of bare httpx GETs to the same target."""
    from chalicelib.engine.queue import RunMessage
    from chalicelib.invoker.run import run_message
    from chalicelib.store import engine_state
    from chalicelib.store import executions as execution_store

    job_id = 900_000_000
    seed(range(job_id, job_id + 1), app_id, FAR, base)
    now = now_ms()
    slots = [now - 60_000 + i for i in range(runs)]
    messages = []
    for slot in slots:
        execution = execution_store.create_pending(job_id, app_id, slot, "schedule", now)
        assert execution is not None, "each bench slot is new"
        messages.append(RunMessage(job_id, slot, "schedule", int(execution.id), dispatched_at=now))
    durations: list[float] = []

    def through_invoker() -> int:
        for message in messages:
            started = time.perf_counter()
            assert run_message(message) == "ran"
            durations.append(time.perf_counter() - started)
        engine_state.flush_outcomes()  # what the SQS handler does after each batch
        return runs

    def bare() -> int:
        for _ in range(runs):
            httpx.get(f"{base}/job/{job_id}").raise_for_status()
        return runs

    floor = timed(meter, "httpx", bare)
    invoker = timed(meter, "invoker", through_invoker)
    return floor, invoker, durations


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
