"""Secrets are write-only: auth secrets and credential-like headers leave the service as `********`."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.contracts.models import AUTH_SECRET_FIELDS, MASK

CREDENTIAL_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|passw|key|credential|session|signature",
    re.IGNORECASE,
)


def is_credential_header(name: str) -> bool:
    return bool(CREDENTIAL_HEADER.search(name))


def mask_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    return {name: (MASK if is_credential_header(name) else value) for name, value in headers.items()}


def mask_task_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of `config` with auth secrets and credential headers masked."""
    masked = dict(config)
    if isinstance(masked.get("auth"), dict):
        masked["auth"] = {k: (MASK if k in AUTH_SECRET_FIELDS else v) for k, v in masked["auth"].items()}
    if isinstance(masked.get("headers"), dict):
        masked["headers"] = mask_headers(masked["headers"])
    return masked


def keep_masked_secrets(incoming: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """Where a client sent `********` back, keep the stored secret (same auth method / same header)."""
    result = dict(incoming)
    new_auth, old_auth = incoming.get("auth"), stored.get("auth")
    if (
        isinstance(new_auth, dict)
        and isinstance(old_auth, dict)
        and new_auth.get("authMethod") == old_auth.get("authMethod")
    ):
        result["auth"] = {
            k: (old_auth.get(k, v) if v == MASK and k in AUTH_SECRET_FIELDS else v) for k, v in new_auth.items()
        }
    new_headers, old_headers = incoming.get("headers"), stored.get("headers")
    if isinstance(new_headers, dict) and isinstance(old_headers, dict):
        by_lower = {name.lower(): value for name, value in old_headers.items()}
        result["headers"] = {
            name: (by_lower.get(name.lower(), value) if value == MASK else value) for name, value in new_headers.items()
        }
    return result
