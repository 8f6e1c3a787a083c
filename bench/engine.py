"""Benchmarks 1-3: the tick against the floor of bare boto3 calls doing the same work, its scaling with stored
jobs, and the invoker against a bare httpx call. Each pair runs in the same process against the same moto
server, interleaved, so moto's own cost and the machine's noise fall on both."""

from __future__ import annotations

import json
import statistics
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
import httpx
from botocore.config import Config

from bench import jobs
from bench.local import purge_queue
from bench.meter import Meter
from chalicelib.clock import now_ms
from chalicelib.contracts.models import JobSpec
from chalicelib.settings import get_settings

WORKERS = 16  # the tick's own thread count, so the floor gets the same parallelism
LEAD_MS = 30_000  # each phase's `now` is 30 s before a minute slot: every due job sends the same slots


@dataclass
class Phase:
    name: str
    seconds: float
    requests: dict[str, int] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)
    items: int = 0


def timed(meter: Meter, name: str, work: Callable[[], int]) -> Phase:
    mark = meter.snapshot()
    started = time.perf_counter()
    items = work()
    seconds = time.perf_counter() - started
    requests, units = meter.since(mark)
    return Phase(name, seconds, dict(requests), dict(units), items)


def phase_moment() -> tuple[int, int]:
    """(now for the tick, the due jobs' cursor): the next minute slot at least LEAD_MS away, and LEAD_MS before
    it, so a per-minute job sends the same 15 slots in every phase whatever the wall clock says."""
    slot = -(-(now_ms() + LEAD_MS) // 60_000) * 60_000
    return slot - LEAD_MS, slot


# --- the floor -------------------------------------------------------------------------------------------------


def floor_tick(now: int, period_ms: int) -> int:
    """The bare calls a tick's work needs, with the tick's 16 threads: one KEYS_ONLY query per due shard (paged),
    BatchGetItem of the jobs found (100 a call), SendMessageBatch of 10 for every slot of the window (nearest
    first, each delayed to its second), one conditional UpdateItem per job moving its cursor past them. No
    models, no cron (the slots are `period_ms` apart), no logging. Returns the slots sent."""
    settings = get_settings()
    config = Config(max_pool_connections=32, retries={"max_attempts": 4, "mode": "standard"})
    dynamodb, sqs = boto3.client("dynamodb", config=config), boto3.client("sqs", config=config)
    from chalicelib import queue

    url = queue.queue_url()
    due_before = now + settings.tick_lookahead_seconds * 1000
    horizon = max(due_before, now + settings.dispatch_window_seconds * 1000)

    def due(shard: int) -> list[str]:
        found: list[str] = []
        kwargs: dict[str, Any] = {}
        for _ in range(10_000):
            page = dynamodb.query(
                TableName=settings.jobs_table, IndexName="due-index",
                KeyConditionExpression="dueShard = :s AND nextRunAt < :h",
                ExpressionAttributeValues={":s": {"N": str(shard)}, ":h": {"N": str(due_before)}}, **kwargs,
            )  # fmt: skip
            found += [item["id"]["N"] for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        return found

    def read(ids: list[str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pending: dict[str, Any] = {settings.jobs_table: {"Keys": [{"id": {"N": i}} for i in ids]}}
        for _ in range(20):
            response = dynamodb.batch_get_item(RequestItems=pending)
            items += response["Responses"].get(settings.jobs_table, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        return items

    def send(chunk: list[tuple[int, str]]) -> None:
        at = now_ms()
        entries = [{"Id": str(i), "MessageBody": body, "DelaySeconds": max(0, min(900, (slot - at) // 1000))}
                   for i, (slot, body) in enumerate(chunk)]  # fmt: skip
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def advance(job: tuple[str, int, int]) -> None:
        dynamodb.update_item(
            TableName=settings.jobs_table, Key={"id": {"N": job[0]}}, UpdateExpression="SET nextRunAt = :n",
            ConditionExpression="nextRunAt = :o",
            ExpressionAttributeValues={":n": {"N": str(job[2])}, ":o": {"N": str(job[1])}},
        )  # fmt: skip

    with ThreadPoolExecutor(WORKERS) as pool:
        ids = [job_id for found in pool.map(due, range(settings.due_shards)) for job_id in found]
        items = [item for chunk in pool.map(read, [ids[i : i + 100] for i in range(0, len(ids), 100)])
                 for item in chunk]  # fmt: skip
        messages, cursors = [], []
        for item in items:
            job_id, app, cursor = item["id"]["N"], item["applicationId"]["N"], int(item["nextRunAt"]["N"])
            slots = range(cursor, horizon, period_ms)
            messages += [(slot, f'{{"v": 2, "jobId": {job_id}, "slot": {slot}, "trigger": "schedule", "app": {app}, '
                                f'"dispatchedAt": {now}, "timeout": 30}}') for slot in slots]  # fmt: skip
            cursors.append((job_id, cursor, slots[-1] + period_ms))
        messages.sort()
        list(pool.map(send, [messages[i : i + 10] for i in range(0, len(messages), 10)]))
        list(pool.map(advance, cursors))
    return len(messages)


# --- tick against floor ----------------------------------------------------------------------------------------


def tick_vs_floor(meter: Meter, due_ids: range, app_id: int, template: JobSpec, rounds: int) -> list[Phase]:
    """Floor and tick over the same due jobs (stored due again before each phase), `rounds` times, the order
    swapped every round; the queue is emptied after each phase."""
    from chalicelib.engine.tick import tick

    period = jobs.PERIOD_MS[template.pattern or ""]
    phases = []
    for round_ in range(rounds):
        for name in ("floor", "tick") if round_ % 2 == 0 else ("tick", "floor"):
            now, cursor = phase_moment()
            jobs.seed(due_ids, app_id, cursor, template)
            work = partial(floor_tick, now, period) if name == "floor" else partial(dispatched, tick, now)
            phases.append(timed(meter, name, work))
            purge_queue()
    return phases


def dispatched(tick: Callable[[int], Any], now: int) -> int:
    return int(tick(now).dispatched)


def medians(phases: list[Phase], name: str) -> float:
    return statistics.median(p.seconds for p in phases if p.name == name)


# --- the invoker against bare httpx, and against the bare calls of its work ---------------------------------


def _bare_run(dynamodb: Any, job_id: int, slot: int, call: Callable[[], httpx.Response]) -> None:
    """A run in bare calls: read the job (consistent), claim the run (a conditional put of the same attributes),
    the call, the finish (a conditional update storing the compressed answer). No models, no guard, no logs."""
    settings = get_settings()
    now = now_ms()
    key = {"jobId": {"N": str(job_id)}, "slot": {"N": str(slot)}}
    dynamodb.get_item(TableName=settings.jobs_table, Key={"id": {"N": str(job_id)}}, ConsistentRead=True)
    item = {**key, "id": {"N": str(slot * 1000)}, "applicationId": {"N": "1"}, "appShard": {"N": "1000"},
            "status": {"S": "running"}, "trigger": {"S": "schedule"}, "attempt": {"N": "1"},
            "createdAt": {"N": str(now)}, "startedAt": {"N": str(now)}, "attemptStartedAt": {"N": str(now)},
            "lagMs": {"N": str(max(0, now - slot))}, "snapshot": {"S": "0123456789abcdef"},
            "expiresAt": {"N": str(now // 1000 + 30 * 86_400)}}  # fmt: skip
    dynamodb.put_item(TableName=settings.executions_table, Item=item, ConditionExpression="attribute_not_exists(jobId)")
    response = call()
    result = {"status": response.status_code, "headers": {"content-type": response.headers["content-type"]},
              "data": response.json()}  # fmt: skip
    payload = zlib.compress(json.dumps({"result": result}, separators=(",", ":")).encode(), 6)
    dynamodb.update_item(
        TableName=settings.executions_table, Key=key, ConditionExpression="#s = :r AND attempt = :a",
        UpdateExpression="SET #s = :s, finishedAt = :f, durationMs = :d, payload = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "running"}, ":a": {"N": "1"}, ":s": {"S": "succeeded"},
                                   ":f": {"N": str(now_ms())}, ":d": {"N": str(now_ms() - now)}, ":p": {"B": payload}},
    )  # fmt: skip


def invoker_vs_httpx(app_id: int, job_ids: list[int], request: dict[str, Any], runs: int,
                     blocks: int) -> dict[str, Any]:  # fmt: skip
    """`runs` scheduled runs through `run_message` (first-attempt messages: the invoker reads the job, claims
    the run, resolves, guards, calls, records) against as many bare httpx calls of the same request (a new
    connection each, as the invoker makes), and as many runs made of bare calls (`_bare_run`), in `blocks`
    interleaved blocks each; seconds per run, median of the blocks."""
    from chalicelib.invoker.run import run_message
    from chalicelib.invoker.transport import default_tls
    from chalicelib.observability import flush
    from chalicelib.queue import RunMessage
    from chalicelib.store import engine_state

    per_block = runs // blocks
    body = json.dumps(request.get("body")).encode() if request.get("body") is not None else None
    headers = {**request["headers"], **({"Content-Type": "application/json"} if body else {})}
    context = default_tls()  # built once, as the invoker's transport does (httpx.get would load the CAs per call)
    dynamodb = boto3.client("dynamodb", config=Config(max_pool_connections=32))
    used: set[tuple[int, int]] = set()

    def call() -> httpx.Response:
        with httpx.Client(verify=context) as client:
            response = client.request(request["method"], request["url"], headers=headers, content=body)
            response.raise_for_status()
            response.read()
            return response

    def slots(offset: int) -> list[tuple[int, int]]:
        now, chosen = now_ms(), []
        for index in range(per_block):
            job_id, slot = job_ids[index % len(job_ids)], now - offset - index
            while (job_id, slot) in used:
                slot -= per_block
            used.add((job_id, slot))
            chosen.append((job_id, slot))
        return chosen

    def bare() -> None:
        for _ in range(per_block):
            call().json()

    def bare_calls() -> None:
        for job_id, slot in slots(300_000):
            _bare_run(dynamodb, job_id, slot, call)

    def through_invoker() -> None:
        now = now_ms()
        for job_id, slot in slots(1_000):
            outcome = run_message(RunMessage(job_id, slot, "schedule", app_id, dispatched_at=now, timeout=30))
            assert outcome == "ran", outcome
        engine_state.flush_outcomes()  # what the SQS handler does after each batch
        flush()

    work = {"httpx": bare, "bare": bare_calls, "invoker": through_invoker}
    timings: dict[str, list[float]] = {name: [] for name in work}
    for step in work.values():  # warm: imports, clients, first connections
        step()
    for block in range(blocks):
        order = list(work.items())
        for name, step in order[block % 3 :] + order[: block % 3]:
            started = time.perf_counter()
            step()
            timings[name].append((time.perf_counter() - started) / per_block)
    return {name: statistics.median(values) for name, values in timings.items()} | {"blocks": timings}
