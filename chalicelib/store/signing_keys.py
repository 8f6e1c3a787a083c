"""An application's signing keys: one keys-table item per application (`signing#{applicationId}`), so a run reads
every key it signs with in one GetItem (eventually consistent: half a read unit, and DynamoDB's replicas agree
within a second, so a key created or retired signs, or stops signing, from the next request on but for that
second; the API's own reads are strongly consistent). A write is one conditional put of the whole set, its version
the condition.

Secrets are encrypted at rest (envelope encryption). Each application has a 256-bit data key, stored wrapped:
by KMS when SIGNING_KMS_KEY_ID is set (GenerateDataKey and Decrypt, the application's id as the encryption
context, so one application's wrapped key cannot be opened as another's), else by SIGNING_MASTER_KEY. Each key's
secret material is sealed with the data key (AES-256-GCM, the key's id as associated data). An unwrapped data key
is kept in memory by its wrapped bytes only; the keys themselves are read on every run.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pynamodb.exceptions import DoesNotExist

from chalicelib.settings import get_settings
from chalicelib.signing import KeyType, Signer, new_ed25519, new_hmac
from chalicelib.store.keys import ATTEMPTS, Contended, save_versioned, version_is
from chalicelib.store.keys import get as get_key
from chalicelib.store.models import KeyModel

MAX_KEYS = 10
NONCE_BYTES = 12
SYSTEM = "system"  # who created the key an application that predates signing gets before its first signed run


@dataclass(frozen=True)
class SigningKey:
    id: str
    type: KeyType
    created_at: int
    expires_at: int | None
    created_by: str | None
    public_key: str | None  # ed25519 only: `whpk_…`
    sealed: str  # the secret material, sealed with the application's data key

    def active(self, now: int) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Created:
    key: SigningKey
    shown: str  # what its creator sees once: the `whsec_…` secret, or the `whpk_…` public key


class TooMany(Exception):
    """The application already holds MAX_KEYS active keys."""


class LastKey(Exception):
    """Retiring this key would leave the application without an active key that does not expire."""


class NotConfigured(Exception):
    """Neither SIGNING_KMS_KEY_ID nor SIGNING_MASTER_KEY is set (outside the dev stage)."""


def _item_key(application_id: int) -> str:
    return f"signing#{application_id}"


# --- encryption at rest -----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _kms() -> Any:
    settings = get_settings()
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3})
    return boto3.client("kms", region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config)


def reset() -> None:
    """Forget the KMS client and the unwrapped data keys (the tests start a new AWS account per test)."""
    _kms.cache_clear()
    _unwrapped.cache_clear()


def _context(application_id: int) -> dict[str, str]:
    return {"applicationId": str(application_id)}


def _master() -> AESGCM:
    master = get_settings().signing_master_key
    if not master:
        raise NotConfigured("set SIGNING_KMS_KEY_ID (or SIGNING_MASTER_KEY) to store signing keys")
    return AESGCM(hashlib.sha256(master.encode()).digest())


def _new_data_key(application_id: int) -> tuple[bytes, dict[str, str]]:
    """A new data key and its wrapped form, as stored."""
    kms_key = get_settings().signing_kms_key_id
    if kms_key:
        made = _kms().generate_data_key(KeyId=kms_key, KeySpec="AES_256", EncryptionContext=_context(application_id))
        return made["Plaintext"], {"kms": _b64(made["CiphertextBlob"])}
    plain = secrets.token_bytes(32)
    return plain, {"local": _seal_with(_master(), plain, str(application_id))}


_unwrapping = threading.Lock()


def _unwrap(application_id: int, kind: str, blob: str) -> bytes:
    """The data key, unwrapped once per process however many runs of a batch ask for it at the same moment."""
    with _unwrapping:
        return _unwrapped(application_id, kind, blob)


@lru_cache(maxsize=256)
def _unwrapped(application_id: int, kind: str, blob: str) -> bytes:
    if kind == "kms":
        opened = _kms().decrypt(CiphertextBlob=base64.b64decode(blob), EncryptionContext=_context(application_id))
        return bytes(opened["Plaintext"])
    return _open_with(_master(), blob, str(application_id))


def _seal_with(aead: AESGCM, material: bytes, associated: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _b64(nonce + aead.encrypt(nonce, material, associated.encode()))


def _open_with(aead: AESGCM, sealed: str, associated: str) -> bytes:
    raw = base64.b64decode(sealed)
    return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- the set ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySet:
    application_id: int
    keys: dict[str, SigningKey]
    wrapped: dict[str, str]  # the data key: {"kms": …} or {"local": …}
    version: int | None = None
    plain: bytes | None = field(default=None, repr=False, compare=False)  # the data key, when just made

    def data_key(self) -> AESGCM:
        if self.plain is not None:
            return AESGCM(self.plain)
        (kind, blob), = self.wrapped.items()  # fmt: skip
        return AESGCM(_unwrap(self.application_id, kind, blob))

    def active(self, now: int) -> list[SigningKey]:
        return sorted((key for key in self.keys.values() if key.active(now)), key=lambda key: (key.created_at, key.id))

    def signers(self, now: int) -> list[Signer]:
        aead = self.data_key()
        return [Signer(key.type, _open_with(aead, key.sealed, key.id)) for key in self.active(now)]

    def with_new(self, key_type: KeyType, now: int, expires_at: int | None, created_by: str | None) -> tuple[
            KeySet, Created]:  # fmt: skip
        key_id = "key_" + secrets.token_hex(8)
        material, shown = new_hmac() if key_type == "hmac" else new_ed25519()
        key = SigningKey(key_id, key_type, now, expires_at, created_by, shown if key_type == "ed25519" else None,
                         _seal_with(self.data_key(), material, key_id))  # fmt: skip
        kept = {key.id: key for key in self.active(now)}  # expired keys sign nothing: they go on the next write
        updated = KeySet(self.application_id, {**kept, key_id: key}, self.wrapped, self.version, self.plain)
        return updated, Created(key, shown)

    def item(self) -> KeyModel:
        keys = {key.id: {"type": key.type, "createdAt": key.created_at, "expiresAt": key.expires_at,
                         "createdBy": key.created_by, "publicKey": key.public_key, "sealed": key.sealed}
                for key in self.keys.values()}  # fmt: skip
        data = {"dataKey": self.wrapped, "keys": keys}
        return KeyModel(_item_key(self.application_id), data=data, value=(self.version or 0) + 1)

    def condition(self) -> Any:
        return version_is(self.version)


def _key_from(key_id: str, fields: dict[str, Any]) -> SigningKey:
    expires_at = fields.get("expiresAt")
    return SigningKey(key_id, fields["type"], int(fields["createdAt"]), None if expires_at is None else int(expires_at),
                      fields.get("createdBy"), fields.get("publicKey"), fields["sealed"])  # fmt: skip


def _from_item(application_id: int, item: KeyModel) -> KeySet:
    data = item.data or {}
    keys = {key_id: _key_from(key_id, fields) for key_id, fields in (data.get("keys") or {}).items()}
    return KeySet(application_id, keys, dict(data["dataKey"]), int(item.value or 0))


def first_set(application_id: int, now: int, created_by: str | None) -> tuple[KeySet, Created]:
    """A new application's set: a data key and one HMAC key that does not expire (written with the application)."""
    plain, wrapped = _new_data_key(application_id)
    return KeySet(application_id, {}, wrapped, plain=plain).with_new("hmac", now, None, created_by)


def read(application_id: int) -> KeySet | None:
    item = get_key(_item_key(application_id))
    return None if item is None else _from_item(application_id, item)


def signers(application_id: int, now: int) -> list[Signer]:
    """What a run signs with: the active keys, decrypted (one eventually consistent read; the first key of an
    application that predates signing is made here)."""
    try:
        found = _from_item(application_id, KeyModel.get(_item_key(application_id), consistent_read=False))
    except DoesNotExist:
        found = ensure(application_id, now)
    return found.signers(now)


def seal(application_id: int, text: str, label: str, now: int) -> str:
    """Another secret of the application (an alert channel's URL) sealed with its data key, `label` bound to it."""
    return _seal_with(ensure(application_id, now).data_key(), text.encode(), label)


def unseal(application_id: int, sealed: str, label: str) -> str:
    """What `seal` sealed under the same application and label."""
    keys = read(application_id)
    if keys is None:
        raise NotConfigured(f"application {application_id} has no data key")
    return _open_with(keys.data_key(), sealed, label).decode()


def _write(keys: KeySet) -> bool:
    return save_versioned(keys.item(), keys.version)


def ensure(application_id: int, now: int) -> KeySet:
    """The application's set; an application that predates signing gets its first key now (before its next run)."""
    for _ in range(ATTEMPTS):
        found = read(application_id)
        if found is not None:
            return found
        first, _ = first_set(application_id, now, SYSTEM)
        if _write(first):
            return replace(first, version=1)
    raise Contended(f"the signing keys of application {application_id}")


def create(application_id: int, key_type: KeyType, now: int, expires_at: int | None,
           created_by: str | None) -> Created:  # fmt: skip
    """Add a key; TooMany when MAX_KEYS are active."""
    for _ in range(ATTEMPTS):
        current = ensure(application_id, now)
        if len(current.active(now)) >= MAX_KEYS:
            raise TooMany(f"an application holds at most {MAX_KEYS} active signing keys; retire one first")
        updated, created = current.with_new(key_type, now, expires_at, created_by)
        if _write(updated):
            return created
    raise Contended(f"the signing keys of application {application_id}")


def retire(application_id: int, key_id: str, now: int) -> bool:
    """Remove a key at once; False when the application has no such active key. LastKey when no active key that
    does not expire would remain (an expiring one would leave the application unsigned when it expires)."""
    for _ in range(ATTEMPTS):
        current = ensure(application_id, now)
        active = {key.id: key for key in current.active(now)}
        if key_id not in active:
            return False
        kept = {k: key for k, key in active.items() if k != key_id}
        if not any(key.expires_at is None for key in kept.values()):
            raise LastKey("an application keeps at least one active signing key that does not expire; create "
                          "another before retiring this one")  # fmt: skip
        if _write(KeySet(application_id, kept, current.wrapped, current.version)):
            return True
    raise Contended(f"the signing keys of application {application_id}")
