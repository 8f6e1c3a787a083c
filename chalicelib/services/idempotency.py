"""Idempotency-Key: a replay returns the first response; the same key with another body is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, IdempotencyMismatch, ValidationError
from chalicelib.store import keys

TTL_SECONDS = 24 * 3600
Reply = tuple[int, Any, dict[str, str]]


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_once(
    operation: str, caller: Caller, scope: int, key: str | None, body: Any, action: Callable[[], Reply]
) -> Reply:
    """Run `action` once per (operation, application `scope`, caller, key); later calls with the key get its
    stored reply. The caller must have been authorised for `scope` already: a replay is never an answer about an
    application the current token may not see."""
    if key is None:
        return action()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationError.for_field("Idempotency-Key", "must be 1 to 255 printable characters")
    record = f"idem#{operation}#{scope}#{caller.user}#{hashlib.sha256(key.encode()).hexdigest()}"
    fingerprint = _fingerprint(body)
    if not keys.put_new(record, {"hash": fingerprint, "state": "started"}, TTL_SECONDS):
        return _replay(record, fingerprint)
    try:
        status, payload, headers = action()
    except Exception:
        keys.delete(record)  # a refused or failed request leaves the key free for a corrected retry
        raise
    stored = {"status": status, "body": payload, "headers": headers}
    keys.put(record, {"hash": fingerprint, "state": "done", "response": stored}, TTL_SECONDS)
    return status, payload, headers


def _replay(record: str, fingerprint: str) -> Reply:
    existing = keys.get(record)
    data = existing.data if existing is not None else None
    if not data:
        raise Conflict("a request with this Idempotency-Key is in progress; retry shortly")
    if data["hash"] != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was used with a different request body")
    if data["state"] != "done":
        raise Conflict("a request with this Idempotency-Key is in progress; retry shortly")
    response = data["response"]
    return response["status"], response["body"], {**response["headers"], "Idempotent-Replayed": "true"}
