"""CPU on the client side (our code and botocore, not moto): the tick, its floor and the invoker each run in a
child process against the bench's moto server and measure their own CPU time around the work. This is what a
Lambda pays for: Python threads share one core, so a tick that costs C ms of CPU per slot cannot dispatch
more than 60,000 / C slots in its minute, however many threads it has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = """
import json, resource, time
def measure(work):
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    items = work()
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    return {"cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, "wall": t1 - t0, "runs": items}
"""

TICK = (
    MEASURE
    + """
import sys
from chalicelib.engine.tick import tick
print(json.dumps(measure(lambda: tick(int(sys.argv[1])).dispatched)))
"""
)

FLOOR = (
    MEASURE
    + """
import sys
from bench.engine import floor_tick
print(json.dumps(measure(lambda: floor_tick(int(sys.argv[1]), int(sys.argv[2])))))
"""
)

# Runs as Lambda gets them: the messages sent as the tick sends them, received 10 at a time, the handler's
# CPU counted (not the receive and delete, which are the event source's); the first batch warms the process.
INVOKER = (
    MEASURE
    + """
import sys
from chalicelib.clock import now_ms
from chalicelib import queue
from chalicelib.queue import RunMessage, send
from chalicelib.invoker.run import handle_records
app_id, first, jobs, runs = (int(value) for value in sys.argv[1:5])
now = now_ms()
send([(RunMessage(first + i % jobs, now - 2_000 - i, "schedule", app_id, dispatched_at=now, timeout=30), 0)
      for i in range(runs)])
sqs, url = queue.client(), queue.queue_url()
batches = []
for _ in range(4 * runs):
    if sum(len(batch) for batch in batches) >= runs:
        break
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    if got:
        batches.append([{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "attributes": {}} for m in got])
assert not handle_records(batches[0])
def work():
    for batch in batches[1:]:
        assert not handle_records(batch)
    return sum(len(batch) for batch in batches[1:])
figures = measure(work)
for batch in batches:
    queue.delete([record["receiptHandle"] for record in batch])
print(json.dumps(figures | {"batches": len(batches) - 1}))
"""
)

# A cold start's own work: importing the Lambda handler module (the interpreter's start is the runtime's).
COLD = (
    MEASURE
    + """
import importlib
print(json.dumps(measure(lambda: bool(importlib.import_module("app")))))
"""
)


def child(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bench child failed:\n{done.stderr[-4000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def tick_cpu(now: int) -> dict[str, float]:
    return child(TICK, str(now))


def floor_cpu(now: int, period_ms: int) -> dict[str, float]:
    return child(FLOOR, str(now), str(period_ms))


def invoker_cpu(app_id: int, first_job: int, jobs: int, runs: int) -> dict[str, float]:
    return child(INVOKER, str(app_id), str(first_job), str(jobs), str(runs))


def cold_start_cpu() -> dict[str, float]:
    return child(COLD)
