"""Secrets are write-only: auth secrets and credential headers leave the service as `********`, and no error
message stored or published carries one.

A header is a credential by the broad name rule of `contracts.headers` (auth, token, key, secret, pass, cookie,
session, …) or because its job lists it in `taskConfig.secretHeaders`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.contracts.headers import is_credential
from chalicelib.contracts.models import AUTH_SECRET_FIELDS, MASK, auth_header_name

MAX_ERROR_MESSAGE = 1000


def secret_header_names(config: dict[str, Any]) -> frozenset[str]:
    """Lower-case names of the headers a job's `secretHeaders` marks secret."""
    return frozenset(str(name).lower() for name in config.get("secretHeaders") or ())


def credential_headers(config: dict[str, Any]) -> frozenset[str]:
    """Lower-case names of every header of this task that carries a credential: by name, by `secretHeaders`,
    and whatever `auth` adds; with Cookie and Proxy-Authorization, which always do."""
    marked = secret_header_names(config)
    names = {name.lower() for name in config.get("headers") or {} if is_credential(name, marked)}
    auth_header = auth_header_name(config.get("auth"))
    if auth_header:
        names.add(auth_header.lower())
    return frozenset(names | marked | {"authorization", "proxy-authorization", "cookie"})


def mask_headers(headers: dict[str, str] | None, marked: frozenset[str] = frozenset()) -> dict[str, str] | None:
    if headers is None:
        return None
    return {name: (MASK if is_credential(name, marked) else value) for name, value in headers.items()}


def mask_task_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of `config` with auth secrets and credential headers masked."""
    masked = dict(config)
    if isinstance(masked.get("auth"), dict):
        masked["auth"] = {k: (MASK if k in AUTH_SECRET_FIELDS else v) for k, v in masked["auth"].items()}
    if isinstance(masked.get("headers"), dict):
        masked["headers"] = mask_headers(masked["headers"], secret_header_names(config))
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


def mask_places(config: dict[str, Any]) -> list[str]:
    """Secret places of a task that hold the mask itself: a `********` sent back where no stored secret matched
    (another auth method, a header the job did not have). Stored, it would be sent as the credential."""
    auth = config.get("auth") or {}
    places = [f"taskConfig.auth.{name}" for name in AUTH_SECRET_FIELDS if auth.get(name) == MASK]
    marked = secret_header_names(config)
    places += [f"taskConfig.headers.{name}" for name, value in (config.get("headers") or {}).items()
               if value == MASK and is_credential(name, marked)]  # fmt: skip
    return places


def secret_forms(config: dict[str, Any], sent_headers: dict[str, str]) -> list[str]:
    """Every value of this task that must never appear in an error message: every header value sent (a message
    cannot know which are harmless; the auth header included) and every auth field, each also in the escaped
    forms `repr` shows, longest first."""
    auth = config.get("auth") or {}
    return forms_of([
        *sent_headers.values(),
        *(str(auth[name]) for name in (*AUTH_SECRET_FIELDS, "username") if auth.get(name)),
    ])  # fmt: skip


def forms_of(values: Iterable[str]) -> list[str]:
    """Each value and the escaped forms `repr` shows of it, longest first (what a message may quote)."""
    forms: set[str] = set()
    for value in values:
        forms.add(value)
        forms.add(repr(value)[1:-1])
        forms.add(repr(value.encode("utf-8", "backslashreplace"))[2:-1])
    return sorted((form for form in forms if len(form) >= 3), key=len, reverse=True)


def scrub_all(value: Any, secrets: list[str]) -> Any:
    """`value` (JSON: an answer a target sent back) with every secret value in its strings, keys included,
    replaced by the mask, longest first: an echoing target does not hand a credential back into the record."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            if secret:  # an empty value would mask between every character
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {scrub_all(key, secrets): scrub_all(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_all(item, secrets) for item in value]
    return value


def scrub(message: str, secrets: list[str]) -> str:
    """`message` with every secret value replaced by the mask, at most MAX_ERROR_MESSAGE characters."""
    masked: str = scrub_all(message, secrets)
    return masked[:MAX_ERROR_MESSAGE]
