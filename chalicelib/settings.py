"""Typed settings from the environment: the one place for every variable name, its default and its range.

Each field of `Settings` names its variable once (`env(...)`), with the default and the parser that checks it; a
value the service cannot run with (`DUE_SHARDS=0`, `APP_INDEX_SHARDS=500`, `PORT=http`) stops it at start with a
SettingsError naming the variable, instead of being clamped or misread. The defaults are the dev stage's names,
so a tool pointed at `make run`'s embedded AWS finds its tables without any setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

EXECUTION_EVENT_KINDS = frozenset({"started", "succeeded", "failed"})
DEFAULT_EXECUTION_EVENTS = frozenset({"succeeded", "failed"})  # one event a run: its outcome
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - documented local default, dev stage only
DEV_SIGNING_MASTER_KEY = "dev-only-signing-master-key-change-me-0123456789"  # dev stage only, like JWT
MIN_JWT_SECRET_BYTES = 32
DEV_PREFIX = "scheduler-dev"  # the dev stage's resource names (.chalice/config.json, `make run`)


class SettingsError(ValueError):
    """An environment variable with a value the service cannot run with; the message names it."""


Parser = Callable[[str], Any]


def env(name: str, default: Any, parse: Parser = str) -> Any:
    """A setting read from the variable `name` (unset or empty: `default`), checked by `parse`."""
    return field(default=default, metadata={"env": name, "parse": parse})


def integer(low: int, high: int) -> Parser:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise ValueError(f"must be a whole number from {low} to {high}") from exc
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}, not {value}")
        return value

    return parse


def flag(text: str) -> bool:
    if text not in ("0", "1", "true", "false"):
        raise ValueError("must be 1 or 0")
    return text in ("1", "true")


def host_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())


def base_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return text.rstrip("/")


def execution_events(text: str) -> frozenset[str]:
    """A comma list of started, succeeded, failed; `none` for no run events (each is $1 per million)."""
    kinds = frozenset(host_list(text)) - {"none"}
    unknown = kinds - EXECUTION_EVENT_KINDS
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; use started, succeeded, failed or none")
    return kinds


@dataclass(frozen=True)
class Settings:
    stage: str = env("STAGE", "dev")
    region: str = env("AWS_REGION", "us-east-1")  # or AWS_DEFAULT_REGION (see get_settings)
    aws_endpoint_url: str | None = env("AWS_ENDPOINT_URL", None)
    applications_table: str = env("APPLICATIONS_TABLE", f"{DEV_PREFIX}-applications")
    jobs_table: str = env("JOBS_TABLE", f"{DEV_PREFIX}-jobs")
    executions_table: str = env("EXECUTIONS_TABLE", f"{DEV_PREFIX}-executions")
    keys_table: str = env("KEYS_TABLE", f"{DEV_PREFIX}-keys")
    invoker_queue_url: str | None = env("INVOKER_QUEUE_URL", None)
    invoker_queue_name: str = env("INVOKER_QUEUE_NAME", f"{DEV_PREFIX}-invoker")
    dead_letter_queue_url: str | None = env("INVOKER_DLQ_URL", None)
    dead_letter_queue_name: str = env("INVOKER_DLQ_NAME", f"{DEV_PREFIX}-invoker-dlq")
    event_bus_name: str = env("EVENT_BUS_NAME", f"{DEV_PREFIX}-events")
    jwt_secret: str | None = env("JWT_SECRET", None)  # the dev default in the dev stage only (see get_settings)
    jwt_jwks_url: str | None = env("JWT_JWKS_URL", None)
    # Signing keys are encrypted with a per-application data key, itself wrapped by this KMS key (AWS: the
    # template's SigningKeysKey) or, without one, by SIGNING_MASTER_KEY (the dev stage has a documented default).
    signing_kms_key_id: str | None = env("SIGNING_KMS_KEY_ID", None)
    signing_master_key: str | None = env("SIGNING_MASTER_KEY", None)
    jwt_issuer: str | None = env("JWT_ISSUER", None)
    jwt_audience: str | None = env("JWT_AUDIENCE", None)
    port: int = env("PORT", 8000, integer(1, 65535))  # make run: the API
    moto_port: int = env("MOTO_PORT", 4566, integer(1, 65535))  # make run: the embedded AWS
    data_dir: str = env("DATA_DIR", ".data")  # make run: the embedded AWS's kept state (relative to the checkout)
    gateway_url: str = env("GATEWAY_URL", "", base_url)  # unset: http://127.0.0.1:$PORT
    allowed_target_hosts: tuple[str, ...] = env("ALLOWED_TARGET_HOSTS", (), host_list)
    internal_hosts: tuple[str, ...] = env("INTERNAL_HOSTS", (), host_list)
    execution_retention_days: int = env("EXECUTION_RETENTION_DAYS", 30, integer(1, 3650))
    due_shards: int = env("DUE_SHARDS", 4, integer(1, 1000))
    tick_lookahead_seconds: int = env("TICK_LOOKAHEAD_SECONDS", 90, integer(75, 600))
    dispatch_window_seconds: int = env("DISPATCH_WINDOW_SECONDS", 900, integer(90, 900))  # SQS delays up to 900 s
    result_body_bytes: int = env("RESULT_BODY_BYTES", 4096, integer(0, 65536))  # of an answer, kept per run
    # Seconds ahead of its slot a run's message is delivered, so its claim is done when the slot comes. AWS: 0 (each
    # Lambda has its own CPU; waiting costs GB-seconds). make run: 5, as one process does every run's work.
    delivery_lead_seconds: int = env("DELIVERY_LEAD_SECONDS", 0, integer(0, 10))
    validate_responses: bool = env("VALIDATE_RESPONSES", False, flag)  # the tests: a response off its schema is a 500
    execution_events: frozenset[str] = env("EXECUTION_EVENTS", DEFAULT_EXECUTION_EVENTS, execution_events)
    app_index_shards: int = env("APP_INDEX_SHARDS", 1, integer(1, 100))  # fixed per deployment
    tick_fanout: bool = env("TICK_FANOUT", False, flag)  # one queue message per due shard
    local_dev: bool = env("LOCAL_DEV", False, flag)  # make run: plain-http session cookies (no Secure flag)
    trigger_limit_per_job: int = env("TRIGGER_LIMIT_PER_JOB", 10, integer(1, 100_000))  # manual runs a minute
    trigger_limit_per_application: int = env("TRIGGER_LIMIT_PER_APPLICATION", 300, integer(1, 1_000_000))

    @property
    def jwt_algorithm(self) -> str:
        return "RS256" if self.jwt_jwks_url else "HS256"


def _read(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        name, parse = spec.metadata["env"], spec.metadata["parse"]
        text = environ.get(name)
        if text is None or not text.strip():
            continue
        try:
            values[spec.name] = parse(text if parse is str else text.strip())
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from exc
    return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once; tests call `get_settings.cache_clear()` after changing it."""
    environ = dict(os.environ)
    if not environ.get("AWS_REGION") and environ.get("AWS_DEFAULT_REGION"):
        environ["AWS_REGION"] = environ["AWS_DEFAULT_REGION"]
    values = _read(environ)
    settings = Settings(**values)
    gateway = settings.gateway_url or f"http://127.0.0.1:{settings.port}"
    return Settings(
        **{
            **values,
            "gateway_url": gateway,
            "jwt_secret": _jwt_secret(settings.stage, settings.jwt_secret),
            "signing_master_key": _master_key(settings.stage, settings.signing_master_key),
        }
    )


def _jwt_secret(stage: str, value: str | None) -> str | None:
    """JWT_SECRET: the dev stage falls back to the documented default; other stages never use it (unset means
    no HS256 token is accepted) and refuse, at start, a secret too short to resist guessing."""
    if not value:
        return DEV_JWT_SECRET if stage == "dev" else None
    if stage != "dev" and len(value.encode()) < MIN_JWT_SECRET_BYTES:
        raise SettingsError(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes outside the dev stage")
    return value


def _master_key(stage: str, value: str | None) -> str | None:
    """SIGNING_MASTER_KEY: like JWT_SECRET, a documented default in the dev stage only, and long enough elsewhere."""
    if not value:
        return DEV_SIGNING_MASTER_KEY if stage == "dev" else None
    if len(value.encode()) < MIN_JWT_SECRET_BYTES:
        raise SettingsError(f"SIGNING_MASTER_KEY must be at least {MIN_JWT_SECRET_BYTES} bytes")
    return value


VARIABLE_PREFIX = "VARIABLE_"


def secret_variables(application: str) -> dict[str, str]:
    """Secret variables the deploy pipeline gives the bootstrap function for one application:
    `VARIABLE_<APP>_<NAME>`, APP the application's name in upper case with `-` as `_` (`crm-eu` → `CRM_EU`)."""
    prefix = f"{VARIABLE_PREFIX}{application.upper().replace('-', '_')}_"
    return {name[len(prefix) :]: value for name, value in os.environ.items() if name.startswith(prefix)}
