"""Browser sessions for the Admin UI: the spec's `session=<JWT>` cookie, set from a token and cleared."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Policy, Scenario, define
from chalicelib.contracts.models import Session, SessionCreate

TAGS = ("scheduler", "session")
COOKIE = "Set-Cookie"

CREATE = define(
    Operation(
        key="scheduler.session.create",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/session",
        description="Sign in a browser: verify a token and set it as the HttpOnly `session` cookie.",
        goal="Let people use the Admin UI without pasting a token into every request.",
        context="The cookie is HttpOnly, SameSite=Strict, Path=/_/scheduler, Secure outside local development, and "
        "expires with the token. Writes made with the cookie must come from this origin.",
        input=SessionCreate,
        output=Session,
        policy=Policy(auth="public"),
        tags=TAGS,
        errors={401: "the token in the body is not one this service accepts"},
        response_headers=(COOKIE,),
        scenarios=(Scenario("sign-in", ("a valid token",), ("the browser posts it",), ("the session cookie is set",)),),
        examples=(
            Example(
                key="bad-token", input={"token": "not-a-jwt"}, status=401, output={"error": {"code": "UNAUTHENTICATED"}}
            ),
            Example(
                key="no-token",
                input={},
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "token"}]}},
            ),
        ),
    )
)

GET = define(
    Operation(
        key="scheduler.session.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/session",
        description="Who is signed in (from the cookie or the bearer token).",
        goal="Let the Admin UI show the user and decide whether to show the sign-in page.",
        context="401 when nobody is signed in.",
        output=Session,
        tags=TAGS,
        examples=(Example(key="whoami", output={"user": "admin", "admin": True}),),
    )
)

DELETE = define(
    Operation(
        key="scheduler.session.delete",
        version="1.0.0",
        kind="command",
        method="DELETE",
        path="/_/scheduler/session",
        description="Sign out: clear the session cookie.",
        goal="End a browser session on a shared machine.",
        context="Public and idempotent, so a browser with an expired cookie can still clear it.",
        output=None,
        status=204,
        policy=Policy(auth="public"),
        tags=TAGS,
        response_headers=(COOKIE,),
        examples=(Example(key="sign-out", status=204),),
    )
)
