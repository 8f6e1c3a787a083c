"""Benchmarks 6-7: cost per million runs from the requests and capacity units counted per run, and the invoker's
Lambda size. One calculator for our stack and for the AWS-native stack it is compared with.

Prices: us-east-1 list prices as of 2026-11 (DynamoDB on-demand after the November 2024 reduction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES = {
    "wru_on_demand": 0.625 / 1e6,  # per write request unit
    "rru_on_demand": 0.125 / 1e6,  # per read request unit
    "wcu_hour": 0.00065,  # provisioned write capacity unit-hour
    "rcu_hour": 0.00013,  # provisioned read capacity unit-hour
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB request
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86
    "lambda_gb_second_arm": 0.0000133334,  # arm64 (Graviton)
    "event": 1.00 / 1e6,  # EventBridge custom event
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, per invocation (after the free 14 M a month)
}
PROVISIONED_UTILISATION = 0.7  # auto scaling's default target: capacity bought = use / 0.7
MB_PER_VCPU = 1769  # Lambda gives a function one full vCPU at 1,769 MB, and CPU in proportion below
BATCH = 10  # runs per invoker invocation (the SQS event source's batch size)
FLOOR_WAIT_S = 0.5  # a message is delayed in whole seconds, never late: the invoker waits out 0-1 s per batch


@dataclass
class PerRun:
    wru: float
    rru: float
    sqs_requests: float
    lambda_invocations: float
    lambda_gb_seconds: float
    events: float = 0.0
    scheduler_invocations: float = 0.0


def per_million(run: PerRun, provisioned: bool, with_events: bool = False, arm: bool = True) -> dict[str, float]:
    p = PRICES
    if provisioned:  # a unit-hour buys 3,600 units a second-hour; steady load at the target utilisation
        dynamodb = (run.wru * p["wcu_hour"] + run.rru * p["rcu_hour"]) / 3600 / PROVISIONED_UTILISATION
    else:
        dynamodb = run.wru * p["wru_on_demand"] + run.rru * p["rru_on_demand"]
    gb_second = p["lambda_gb_second_arm"] if arm else p["lambda_gb_second"]
    lambda_cost = run.lambda_invocations * p["lambda_request"] + run.lambda_gb_seconds * gb_second
    events = run.events * p["event"] if with_events else 0.0
    lines = {
        "DynamoDB": dynamodb * 1e6,
        "SQS": run.sqs_requests * p["sqs_request"] * 1e6,
        "Lambda": lambda_cost * 1e6,
        "EventBridge": (events + run.scheduler_invocations * p["scheduler_invocation"]) * 1e6,
    }
    lines["total"] = sum(lines.values())
    return lines


def cpu_seconds_at(cpu_s: float, memory_mb: int) -> float:
    """Wall seconds `cpu_s` of full-vCPU work takes at `memory_mb` (CPU in proportion to memory)."""
    return cpu_s * MB_PER_VCPU / min(memory_mb, MB_PER_VCPU)


def invoker_lambda(cpu_per_run_s: float, memory_mb: int) -> dict[str, float]:
    """One invocation runs a batch of 10 side by side on the function's share of a core, after the mean
    floor-second wait. The target's own answer time is not included (it is the target's, whatever runs it)."""
    batch_s = BATCH * cpu_seconds_at(cpu_per_run_s, memory_mb) + FLOOR_WAIT_S
    gb_seconds = memory_mb / 1024 * batch_s / BATCH
    return {
        "memoryMb": memory_mb,
        "cpuMsPerRun": cpu_seconds_at(cpu_per_run_s, memory_mb) * 1000,
        "batchSeconds": batch_s,
        # the 10th run of a batch can start its call after the CPU of the nine before it (upper bound)
        "lastStartMs": (BATCH - 1) * cpu_seconds_at(cpu_per_run_s, memory_mb) * 1000,
        "gbSecondsPerRun": gb_seconds,
        "perMillion": (gb_seconds * PRICES["lambda_gb_second_arm"] + PRICES["lambda_request"] / BATCH) * 1e6,
    }


def native_run(cpu_per_run_s: float, memory_mb: int, start_bytes: int, end_bytes: int) -> PerRun:
    """EventBridge Scheduler -> one Lambda invocation per run (the same CPU, the same size, no floor wait) ->
    two history writes of the same item sizes as ours: a put at the start, an update at the end."""
    put = max(1, math.ceil(start_bytes / 1024))
    update = max(1, math.ceil(max(start_bytes, end_bytes) / 1024))
    gb_seconds = memory_mb / 1024 * cpu_seconds_at(cpu_per_run_s, memory_mb)
    return PerRun(wru=put + update, rru=0.0, sqs_requests=0.0, lambda_invocations=1.0, lambda_gb_seconds=gb_seconds,
                  scheduler_invocations=1.0)  # fmt: skip
