"""The words a run is described with, each written once: its status, what triggered it, what it counts as in
the stats when it ends, and what the invoker did with a message. mypy holds every use to these."""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["pending", "running", "succeeded", "failed"]
"""pending: queued with a record (a manual run, a retry waiting out its backoff); running; then final."""

Trigger = Literal["schedule", "manual", "backfill"]

JobStatus = Literal["scheduled", "paused", "completed"]
"""Derived from a job: completed (a one-off that ran, or a schedule with no slot left), paused (disabled)."""

Counted = Literal["succeeded", "failed", "skipped"]
"""How an ended slot is counted in /stats: skipped is a slot that was sent but did not run."""

Handled = Literal["ran", "lost", "skipped", "duplicate", "requeued", "retrying"]
"""The invoker's verdict on one run message: the run ended (succeeded or failed), its invoker had died and no
attempt was left (lost), the slot was taken away (skipped), another delivery owns the run (duplicate), it came
too early and went back to the queue (requeued), or it failed with a retry on its way (retrying)."""

Ended = Literal["succeeded", "failed"]
"""A run's final status."""

STATUSES: tuple[Status, ...] = get_args(Status)
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)


def status_of(value: object) -> Status:
    """A stored or received status as the type says it, or ValueError."""
    for status in STATUSES:
        if value == status:
            return status
    raise ValueError(f"unknown run status {value!r}")


def trigger_of(value: object) -> Trigger:
    for trigger in TRIGGERS:
        if value == trigger:
            return trigger
    raise ValueError(f"unknown trigger {value!r}")
