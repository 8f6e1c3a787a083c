"""Operations on an application's signing keys: every call of its jobs is signed with each active key (Standard
Webhooks), so a target can tell the scheduler's calls from anyone else's."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Policy, Scenario, define
from chalicelib.contracts.models import KEY_ID_FORM, PublicKey, SigningKey, SigningKeyCreate, SigningKeyCreated

TAGS = ("scheduler", "signing-key")
LIST_PATH = "/_/scheduler/applications/{id}/signing-keys"
CONTEXT = (
    "Members of the application and admins; other tenants get 404. Requests carry one signature per active key, "
    "so a new key and an old one overlap until the old one is retired."
)

CREATE = define(
    Operation(
        key="scheduler.signing-key.create",
        version="1.0.0",
        kind="command",
        method="POST",
        path=LIST_PATH,
        description="Create a signing key; an hmac key's secret is in this answer only.",
        goal="Rotate keys without a gap: add the new one, move targets to it, retire the old one.",
        context=CONTEXT + " At most 10 active keys (409). The next request of every job is signed with it.",
        input=SigningKeyCreate,
        output=SigningKeyCreated,
        status=201,
        tags=TAGS,
        errors={
            400: "expiresAt is not in the future",
            409: "the application already has 10 active keys, or other requests changed its keys on every attempt",
        },
        scenarios=(
            Scenario("rotate", ("`crm` signs with key A",), ("key B is created",), ("calls carry A's and B's",)),
        ),
        examples=(
            Example(
                key="hmac-key",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"type": "hmac"},
                output={"type": "hmac", "expiresAt": None},
                status=201,
            ),
            Example(
                key="ed25519-key",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"type": "ed25519", "expiresAt": "2999-01-01T00:00:00Z"},
                output={"type": "ed25519", "expiresAt": "2999-01-01T00:00:00.000Z"},
                status=201,
            ),
            Example(
                key="expired-refused",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"type": "hmac", "expiresAt": "2001-01-01T00:00:00Z"},
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "expiresAt"}]}},
                status=400,
            ),
            Example(
                key="other-tenant",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"type": "hmac"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
                as_user="outsider",
            ),
        ),
    )
)

LIST = define(
    Operation(
        key="scheduler.signing-key.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path=LIST_PATH,
        description="The application's active signing keys, oldest first; never a secret.",
        goal="See which keys sign the application's calls, and until when.",
        context=CONTEXT,
        output=list[SigningKey],
        tags=TAGS,
        examples=(
            Example(key="first-key", given=("application",), path={"id": "{applicationId}"}, output=[{"type": "hmac"}]),
            Example(
                key="other-tenant",
                given=("application",),
                path={"id": "{applicationId}"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
                as_user="outsider",
            ),
        ),
    )
)

PUBLIC = define(
    Operation(
        key="scheduler.signing-key.public",
        version="1.0.0",
        kind="query",
        method="GET",
        path=LIST_PATH + "/public",
        description="The application's active ed25519 public keys, without authentication, for targets to fetch.",
        goal="Let a target verify `v1a` signatures with no secret to keep.",
        context="Public: a public key reveals nothing. An application that does not exist answers 404.",
        output=list[PublicKey],
        policy=Policy(auth="public"),
        tags=TAGS,
        examples=(Example(key="no-ed25519-key", given=("application",), path={"id": "{applicationId}"}, output=[]),),
    )
)

DELETE = define(
    Operation(
        key="scheduler.signing-key.delete",
        version="1.0.0",
        kind="command",
        method="DELETE",
        path=LIST_PATH + "/{keyId}",
        path_patterns={"keyId": KEY_ID_FORM},
        description="Retire a signing key at once: the next request is signed without it.",
        goal="End a key that leaked, or finish a rotation.",
        context=CONTEXT + " The last active key that does not expire cannot be retired (409).",
        output=None,
        status=204,
        tags=TAGS,
        errors={
            409: "it is the last active key that does not expire, or other requests changed the application's "
            "keys on every attempt"
        },
        scenarios=(Scenario("last-key", ("`crm` has one key",), ("it is retired",), ("409; it still signs",)),),
        examples=(
            Example(
                key="missing",
                given=("application",),
                path={"id": "{applicationId}", "keyId": "key_0000000000000000"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
            ),
        ),
    )
)
