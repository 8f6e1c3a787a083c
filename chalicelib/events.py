"""Events on the EventBridge bus (`scheduler.job.created`, …), each put as it happens: a run's outcome is on the
bus when its record is, not when the slowest run of its batch ends. A failed put is logged, never raised."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

log = logging.getLogger(__name__)
SOURCE = "scheduler"
PUT_BATCH = 10  # PutEvents takes at most 10 entries


@lru_cache(maxsize=1)
def _client() -> Any:
    settings = get_settings()
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3}, max_pool_connections=32)
    return boto3.client("events", region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config)


def _entry(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "EventBusName": get_settings().event_bus_name,
    }


def _put(entries: list[dict[str, Any]]) -> None:
    """Put entries, 10 a request; the caller's work never fails because the bus did."""
    for start in range(0, len(entries), PUT_BATCH):
        chunk = entries[start : start + PUT_BATCH]
        kinds = sorted({entry["DetailType"] for entry in chunk})
        try:
            response = _client().put_events(Entries=chunk)
            if response.get("FailedEntryCount"):
                log.warning("%d events of %s not accepted", response["FailedEntryCount"], kinds)
        except Exception:
            log.warning("events %s could not be published", kinds, exc_info=True)


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    """Put one event now."""
    _put([_entry(detail_type, detail)])


def publish_execution(kind: str, execution: dict[str, Any]) -> None:
    """`scheduler.job.execution.<kind>` (the caller checks EXECUTION_EVENTS before building the execution)."""
    publish(f"scheduler.job.execution.{kind}", {"execution": execution})


def reset() -> None:
    _client.cache_clear()
