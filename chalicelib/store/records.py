"""What the store hands out: plain frozen records, never PynamoDB items, so the rest of the service does not
know where history lives (swapping DynamoDB for another store is a change to `store/` alone).

A job's client-written fields are one `JobSpec` (the API's model); the store keeps it whole and adds what the
service derives: version, audit fields, the engine's cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chalicelib.clock import to_ms
from chalicelib.codes import Status, Trigger
from chalicelib.contracts.models import JobSpec
from chalicelib.cron import jitter_ms


@dataclass(frozen=True)
class Application:
    id: int
    name: str
    display_name: str
    created_at: int
    created_by: str | None = None


@dataclass(frozen=True)
class Job:
    """A job as stored: its spec, its version (the ETag), who wrote it when, and the engine's cursor
    (`next_run_at`: the first slot not yet dispatched; None when it has none or is disabled)."""

    id: int
    spec: JobSpec
    version: int
    created_at: int
    updated_at: int
    created_by: str | None = None
    updated_by: str | None = None
    next_run_at: int | None = None
    completed_at: int | None = None
    paused_until: int | None = None  # disabled until then: it resumes by itself (the engine's resume message)
    paused_reason: str | None = None
    paused_at: int | None = None  # when that pause began: slots after it are the ones missed
    snapshot: str | None = None  # the key of the masked configuration runs of this version show (snapshots.py)

    @property
    def application_id(self) -> int:
        return self.spec.applicationId

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    @property
    def pattern(self) -> str | None:
        return self.spec.pattern

    @property
    def timezone(self) -> str:
        return self.spec.timezone

    @property
    def run_at(self) -> int | None:
        """A one-off job's instant, epoch ms."""
        return to_ms(self.spec.runAt) if self.spec.runAt is not None else None

    @property
    def start_at(self) -> int | None:
        return to_ms(self.spec.startAt) if self.spec.startAt is not None else None

    @property
    def end_at(self) -> int | None:
        return to_ms(self.spec.endAt) if self.spec.endAt is not None else None

    def in_window(self, slot: int) -> bool:
        """Whether `slot` lies in [startAt, endAt)."""
        return (self.start_at is None or slot >= self.start_at) and (self.end_at is None or slot < self.end_at)

    def planned_at(self, slot: int, trigger: str = "schedule") -> int:
        """When a run of `slot` starts: the slot plus its jitter offset (scheduled runs only)."""
        return slot + (jitter_ms(self.id, slot, self.spec.jitterSeconds) if trigger == "schedule" else 0)

    @cached_property
    def task_config(self) -> dict[str, Any]:
        """The task configuration as plain JSON (what parameters resolve in and the call is made from)."""
        return self.spec.taskConfig.model_dump(exclude_none=True)

    @property
    def timeout_ms(self) -> int:
        return self.spec.taskConfig.timeout


@dataclass(frozen=True)
class Execution:
    """One run of a job at one slot (epoch ms), with every attempt it took."""

    job_id: int
    slot: int
    id: int
    application_id: int
    status: Status
    trigger: Trigger
    attempt: int
    created_at: int
    created_by: str | None = None
    started_at: int | None = None
    attempt_started_at: int | None = None
    finished_at: int | None = None
    duration_ms: int | None = None
    lag_ms: int | None = None
    missed_slots: int | None = None
    due_at: int | None = None  # a pending retry: when its message becomes visible
    planned_at: int | None = None  # a jittered scheduled run: its slot plus the offset (None: the slot)
    snapshot: str | None = None  # key of the job's masked configuration as run (see snapshots.py)
    job_snapshot: dict[str, Any] | None = None  # kept whole when the run had no snapshot key
    resolved: dict[str, Any] | None = None  # what the run's parameters resolved to, by path (non-secret only)
    request: dict[str, Any] | None = None  # the request it made: method and url
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
