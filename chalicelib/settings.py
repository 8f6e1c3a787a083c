"""Typed settings from the environment: the one place for every variable name and its default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

EXECUTION_EVENT_KINDS = frozenset({"started", "succeeded", "failed"})
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - documented local default, dev stage only
MIN_JWT_SECRET_BYTES = 32


class SettingsError(ValueError):
    """An environment variable with a value the service cannot run with; the message names it."""


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in (value or "").split(",") if part.strip())


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    stage: str = "dev"
    region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    applications_table: str = "scheduler-applications"
    jobs_table: str = "scheduler-jobs"
    executions_table: str = "scheduler-executions"
    keys_table: str = "scheduler-keys"
    invoker_queue_url: str | None = None
    invoker_queue_name: str = "scheduler-invoker"
    event_bus_name: str = "scheduler-events"
    jwt_secret: str | None = DEV_JWT_SECRET  # None outside the dev stage when JWT_SECRET is unset
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    gateway_url: str = "http://127.0.0.1:8000"
    allowed_target_hosts: tuple[str, ...] = field(default_factory=tuple)
    internal_hosts: tuple[str, ...] = field(default_factory=tuple)
    execution_retention_days: int = 30
    due_shards: int = 4
    tick_lookahead_seconds: int = 90
    validate_responses: bool = False
    execution_events: frozenset[str] = EXECUTION_EVENT_KINDS
    app_index_shards: int = 1  # keys per application in the executions' by-application index (fixed)
    tick_fanout: bool = False  # one queue message per due shard; the invoker function dispatches them
    local_dev: bool = False  # `make run`: plain-http session cookies (no Secure flag)
    trigger_limit_per_job: int = 10  # manual triggers a minute (a job that triggers itself cannot loop)
    trigger_limit_per_application: int = 300

    @property
    def jwt_algorithm(self) -> str:
        return "RS256" if self.jwt_jwks_url else "HS256"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once; tests call `get_settings.cache_clear()` after changing it."""
    env = os.environ.get
    port = env("PORT", "8000")
    return Settings(
        stage=env("STAGE", "dev"),
        region=env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1",
        aws_endpoint_url=env("AWS_ENDPOINT_URL") or None,
        applications_table=env("APPLICATIONS_TABLE", "scheduler-applications"),
        jobs_table=env("JOBS_TABLE", "scheduler-jobs"),
        executions_table=env("EXECUTIONS_TABLE", "scheduler-executions"),
        keys_table=env("KEYS_TABLE", "scheduler-keys"),
        invoker_queue_url=env("INVOKER_QUEUE_URL") or None,
        invoker_queue_name=env("INVOKER_QUEUE_NAME", "scheduler-invoker"),
        event_bus_name=env("EVENT_BUS_NAME", "scheduler-events"),
        jwt_secret=_jwt_secret(env("STAGE", "dev"), env("JWT_SECRET")),
        jwt_jwks_url=env("JWT_JWKS_URL") or None,
        jwt_issuer=env("JWT_ISSUER") or None,
        jwt_audience=env("JWT_AUDIENCE") or None,
        gateway_url=(env("GATEWAY_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        allowed_target_hosts=_csv(env("ALLOWED_TARGET_HOSTS")),
        internal_hosts=_csv(env("INTERNAL_HOSTS")),
        execution_retention_days=_int("EXECUTION_RETENTION_DAYS", 30),
        due_shards=max(1, _int("DUE_SHARDS", 4)),
        tick_lookahead_seconds=max(75, _int("TICK_LOOKAHEAD_SECONDS", 90)),
        validate_responses=env("VALIDATE_RESPONSES", "") == "1",
        execution_events=_execution_events(env("EXECUTION_EVENTS")),
        local_dev=env("LOCAL_DEV", "") == "1",
        tick_fanout=env("TICK_FANOUT", "") == "1",
        app_index_shards=min(100, max(1, _int("APP_INDEX_SHARDS", 1))),
        trigger_limit_per_job=_int("TRIGGER_LIMIT_PER_JOB", 10),
        trigger_limit_per_application=_int("TRIGGER_LIMIT_PER_APPLICATION", 300),
    )


def _jwt_secret(stage: str, value: str | None) -> str | None:
    """JWT_SECRET: the dev stage falls back to the documented default; other stages never use it (unset means
    no HS256 token is accepted) and refuse, at start, a secret too short to resist guessing."""
    if not value:
        return DEV_JWT_SECRET if stage == "dev" else None
    if stage != "dev" and len(value.encode()) < MIN_JWT_SECRET_BYTES:
        raise SettingsError(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes outside the dev stage")
    return value


def _execution_events(value: str | None) -> frozenset[str]:
    """EXECUTION_EVENTS: which run events reach the bus (each is $1 per million): a comma list of started,
    succeeded, failed; `none` for no run events. Unset: all three, as the spec lists them."""
    if value is None or not value.strip():
        return EXECUTION_EVENT_KINDS
    kinds = frozenset(_csv(value)) - {"none"}
    unknown = kinds - EXECUTION_EVENT_KINDS
    if unknown:
        raise ValueError(f"EXECUTION_EVENTS: unknown kinds {sorted(unknown)}; use started, succeeded, failed or none")
    return kinds
