"""Structured JSON logs, CloudWatch metrics (EMF) and X-Ray traces, via Powertools.

Every line about a run carries jobId, executionId, applicationId and slot; no line carries a task's
configuration, so no secret reaches the logs. The tracer switches itself off outside Lambda; `make run`
and the tests set POWERTOOLS_METRICS_DISABLED so EMF blobs do not fill the terminal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "scheduler"
NAMESPACE = "Scheduler"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_lock = threading.Lock()


def count(name: str, value: float = 1) -> None:
    _add(name, MetricUnit.Count, value)


def milliseconds(name: str, value: float) -> None:
    _add(name, MetricUnit.Milliseconds, value)


def _add(name: str, unit: MetricUnit, value: float) -> None:
    with _lock:  # the invoker records from several threads
        metrics.add_metric(name=name, unit=unit, value=value)


def flush() -> None:
    """Write the recorded metrics as one EMF document (once per tick or invoker batch). Nothing when none are
    left: Powertools writes the set itself when one metric reaches 100 values (a big tick's lags), and a flush of
    an empty set only warns."""
    with _lock:
        if metrics.metric_set:
            metrics.flush_metrics()


@contextmanager
def run_context(**keys: Any) -> Iterator[None]:
    """Keys on every log line of this thread while one run is handled."""
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))


@contextmanager
def traced(name: str) -> Iterator[None]:
    """An X-Ray subsegment around a block. Unlike `tracer.capture_method` it logs nothing when the block raises:
    that decorator logs every exception with its chained causes, and an HTTP client's exception can quote a
    request header (a credential)."""
    with tracer.provider.in_subsegment(name=f"## {name}"):
        yield
