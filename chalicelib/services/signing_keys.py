"""An application's signing keys: who may manage them (members and admins; other tenants get 404), what a client
sees of them (an hmac secret only in the answer that created it), and the rule that an application always keeps
an active key that does not expire."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms, to_ms
from chalicelib.contracts.models import SigningKeyCreate
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.services import tenancy
from chalicelib.store import applications as app_store
from chalicelib.store import signing_keys as key_store
from chalicelib.store.keys import Contended
from chalicelib.store.signing_keys import Created, SigningKey


def to_api(key: SigningKey) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": key.id, "type": key.type, "createdAt": iso(key.created_at),
                             "expiresAt": iso(key.expires_at)}  # fmt: skip
    if key.public_key is not None:
        shown["publicKey"] = key.public_key
    return shown


def created_to_api(created: Created) -> dict[str, Any]:
    shown = to_api(created.key)
    if created.key.type == "hmac":
        shown["secret"] = created.shown
    return shown


def list_visible(caller: Caller, application_id: int) -> list[SigningKey]:
    tenancy.visible_application(caller, application_id)
    return key_store.ensure(application_id, now_ms()).active(now_ms())


def public_keys(application_id: int) -> list[dict[str, str]]:
    """Anyone may read an application's public keys; an application that does not exist is a 404."""
    if app_store.get(application_id) is None:
        raise NotFound(f"application {application_id} not found")
    found = key_store.read(application_id)
    keys = found.active(now_ms()) if found else []
    return [{"id": key.id, "publicKey": key.public_key} for key in keys if key.public_key]


def create(caller: Caller, application_id: int, given: SigningKeyCreate) -> Created:
    tenancy.visible_application(caller, application_id)
    now = now_ms()
    expires_at = to_ms(given.expiresAt) if given.expiresAt else None
    if expires_at is not None and expires_at <= now:
        raise ValidationError.for_field("expiresAt", "must be in the future")
    try:
        return key_store.create(application_id, given.type, now, expires_at, caller.user)
    except (key_store.TooMany, Contended) as exc:
        raise Conflict(str(exc)) from exc


def retire(caller: Caller, application_id: int, key_id: str) -> None:
    tenancy.visible_application(caller, application_id)
    try:
        retired = key_store.retire(application_id, key_id, now_ms())
    except (key_store.LastKey, Contended) as exc:
        raise Conflict(str(exc)) from exc
    if not retired:
        raise NotFound(f"application {application_id} has no active signing key {key_id}")
