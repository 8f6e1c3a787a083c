"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a target checks to know a call is ours.

Each request carries `webhook-id` (the run: the same on every attempt), `webhook-timestamp` (Unix seconds when
this attempt was sent) and `webhook-signature`: one `v1,<base64 HMAC-SHA256>` per active symmetric key and one
`v1a,<base64 ed25519>` per active asymmetric key, space-separated, each over `{id}.{timestamp}.{body}` (the exact
bytes sent; empty for GET and HEAD). Symmetric secrets are `whsec_` + base64 of 32 random bytes, as the
standard's libraries read them; public keys are `whpk_` + base64 of the 32-byte ed25519 key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KeyType = Literal["hmac", "ed25519"]
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of the format, not a secret
PUBLIC_PREFIX = "whpk_"
ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "webhook-id", "webhook-timestamp", "webhook-signature"
HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
KEY_BYTES = 32


@dataclass(frozen=True)
class Signer:
    """One active key: its type and its secret material (the HMAC key, or the ed25519 private key's 32 bytes)."""

    type: KeyType
    material: bytes

    def signature(self, content: bytes) -> str:
        if self.type == "hmac":
            return "v1," + _b64(hmac.new(self.material, content, hashlib.sha256).digest())
        return "v1a," + _b64(Ed25519PrivateKey.from_private_bytes(self.material).sign(content))


def new_hmac() -> tuple[bytes, str]:
    """A new symmetric key: its material and the `whsec_…` secret the application's owner is shown once."""
    material = secrets.token_bytes(KEY_BYTES)
    return material, SECRET_PREFIX + _b64(material)


def new_ed25519() -> tuple[bytes, str]:
    """A new asymmetric key: its private material (never leaves the server) and the `whpk_…` public key."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())  # fmt: skip
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw, PUBLIC_PREFIX + _b64(public)


def headers(message_id: str, timestamp: int, body: bytes, signers: list[Signer]) -> dict[str, str]:
    """The three `webhook-*` headers of one request (none without a signer)."""
    if not signers:
        return {}
    content = f"{message_id}.{timestamp}.".encode() + body
    signature = " ".join(signer.signature(content) for signer in signers)
    return {ID_HEADER: message_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
