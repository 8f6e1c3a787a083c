"""The one way a run's end is announced, whichever path ended it (the invoker, a cancellation, the sweep)."""

from __future__ import annotations

from chalicelib import events
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store.models import ExecutionModel


def run_ended(execution: ExecutionModel, counted_as: str) -> None:
    """Count the ended run in the stats as `counted_as` (succeeded, failed or skipped) and put its event on
    the bus; `execution` is the record as its final write left it."""
    engine_state.count_outcome(int(execution.applicationId), counted_as, int(execution.finishedAt))
    kind = "succeeded" if execution.status == execution_store.SUCCEEDED else "failed"
    events.publish_execution(kind, execution_store.to_api(execution))
