"""Events on the EventBridge bus (`scheduler.job.created`, …). A failed put is logged, never raised."""

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


@lru_cache(maxsize=1)
def _client() -> Any:
    settings = get_settings()
    config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2}, max_pool_connections=32)
    return boto3.client("events", region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config)


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    """Put one event; the caller's work never fails because the bus did."""
    entry = {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "EventBusName": get_settings().event_bus_name,
    }
    try:
        response = _client().put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            log.warning("event %s not accepted: %s", detail_type, response.get("Entries"))
    except Exception:
        log.warning("event %s could not be published", detail_type, exc_info=True)


def reset() -> None:
    _client.cache_clear()


def publish_execution(kind: str, execution: dict[str, Any]) -> None:
    """`scheduler.job.execution.<kind>`, unless EXECUTION_EVENTS leaves that kind out."""
    if kind in get_settings().execution_events:
        publish(f"scheduler.job.execution.{kind}", {"execution": execution})
