"""Benchmark 5: cost per million runs from the requests and capacity units counted per run.

Prices: us-east-1, list prices as of 2026-11 (DynamoDB on-demand after the November 2024 reduction).
"""

from __future__ import annotations

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
}
PROVISIONED_UTILISATION = 0.7  # auto scaling's default target: capacity bought = use / 0.7
GB_PER_VCPU = 1.769  # Lambda gives a function one full vCPU at 1,769 MB, and CPU in proportion to memory


@dataclass
class PerRun:
    wru: float
    rru: float
    sqs_requests: float
    lambda_invocations: float
    lambda_gb_seconds: float
    events: float


def per_million(run: PerRun, provisioned: bool, with_events: bool, arm: bool = False) -> dict[str, float]:
    p = PRICES
    if provisioned:  # a unit-hour buys 3,600 units a second-hour; steady load at the target utilisation
        dynamodb = (run.wru * p["wcu_hour"] + run.rru * p["rcu_hour"]) / 3600 / PROVISIONED_UTILISATION
    else:
        dynamodb = run.wru * p["wru_on_demand"] + run.rru * p["rru_on_demand"]
    gb_second = p["lambda_gb_second_arm"] if arm else p["lambda_gb_second"]
    lambda_cost = run.lambda_invocations * p["lambda_request"] + run.lambda_gb_seconds * gb_second
    lines = {
        "DynamoDB": dynamodb * 1e6,
        "SQS": run.sqs_requests * p["sqs_request"] * 1e6,
        "Lambda": lambda_cost * 1e6,
        "EventBridge": run.events * p["event"] * 1e6 if with_events else 0.0,
    }
    lines["total"] = sum(lines.values())
    return lines


def lambda_gb_seconds(cpu_seconds: float, wait_seconds: float, memory_gb: float, runs_per_batch: int) -> float:
    """GB-seconds one run bills: its CPU costs the same at any memory size (CPU share grows with memory),
    and its waiting (the floor-second wait, the target's answer) is shared by the runs of a batch."""
    return cpu_seconds * GB_PER_VCPU + wait_seconds * memory_gb / runs_per_batch
