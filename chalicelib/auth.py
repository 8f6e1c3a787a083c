"""Who is calling: JWT verification (HS256 with JWT_SECRET in dev, RS256 from a JWKS in production).

The token comes from `Authorization: Bearer <JWT>` or the `session=<JWT>` cookie. `sub` names the user;
`roles` containing `scheduler:admin` sees every application, otherwise `apps` lists the application
names the user may manage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from typing import Any

import jwt

from chalicelib.errors import Unauthenticated
from chalicelib.settings import Settings, get_settings

ADMIN_ROLE = "scheduler:admin"
LEEWAY_SECONDS = 30  # clock skew allowed on exp and nbf (README: Authentication)
TIME_CLAIMS = ("exp", "nbf", "iat")
LATEST_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    user: str
    is_admin: bool
    apps: frozenset[str]

    def may_manage(self, application_name: str) -> bool:
        return self.is_admin or application_name in self.apps


def bearer_token(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = (headers.get("authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def session_cookie(headers: Mapping[str, str]) -> str | None:
    """The `session` cookie's value, if the request carries one."""
    cookie_header = headers.get("cookie")
    if not cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get("session")
    except CookieError:
        return None
    return morsel.value if morsel is not None and morsel.value else None


def token_from(headers: Mapping[str, str]) -> str | None:
    return bearer_token(headers) or session_cookie(headers)


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _key_for(token: str, settings: Settings) -> Any:
    if settings.jwt_jwks_url:
        try:
            return _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated("token signing key not found") from exc
    if settings.jwt_secret is None:
        raise Unauthenticated("token verification is not configured")
    return settings.jwt_secret


def verify(token: str, settings: Settings | None = None) -> Caller:
    """Verify signature, algorithm, `exp` (required), and issuer/audience when configured."""
    settings = settings or get_settings()
    if settings.stage == "prod" and not settings.jwt_jwks_url:
        log.error("the prod stage needs JWT_JWKS_URL; refusing every token")
        raise Unauthenticated("token verification is not configured")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthenticated("malformed token") from exc
    if header.get("alg") != settings.jwt_algorithm:
        raise Unauthenticated(f"token algorithm must be {settings.jwt_algorithm}")
    try:
        claims = jwt.decode(
            token,
            _key_for(token, settings),
            algorithms=[settings.jwt_algorithm],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub"], "verify_aud": settings.jwt_audience is not None},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired") from exc
    except (jwt.PyJWTError, OverflowError, ValueError, TypeError) as exc:
        raise Unauthenticated(f"invalid token: {exc}") from exc
    _check_times(claims)
    return caller_from_claims(claims)


def _check_times(claims: Mapping[str, Any]) -> None:
    """`exp`, `nbf` and `iat` are JSON numbers (RFC 7519 NumericDate), not strings, and within years 1970-9999."""
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= LATEST_NUMERIC_DATE:
            raise Unauthenticated(f"token claim {name} must be a number of seconds between 1970 and 9999")


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    sub, roles, apps = claims.get("sub"), claims.get("roles") or [], claims.get("apps") or []
    if not isinstance(sub, str) or not sub or not isinstance(roles, list) or not isinstance(apps, list):
        raise Unauthenticated("token claims sub, roles and apps are malformed")
    return Caller(
        user=sub,
        is_admin=ADMIN_ROLE in roles,
        apps=frozenset(app for app in apps if isinstance(app, str)),
    )


def authenticate(headers: Mapping[str, str]) -> Caller:
    token = token_from(headers)
    if token is None:
        raise Unauthenticated("send Authorization: Bearer <token> or the session cookie")
    return verify(token)


def issue_dev_token(
    sub: str, roles: list[str] | None = None, apps: list[str] | None = None, ttl_seconds: int = 86_400
) -> str:
    """An HS256 token signed with JWT_SECRET, for `make run` and the tests."""
    settings = get_settings()
    if settings.jwt_secret is None:
        raise RuntimeError("JWT_SECRET is not set")
    now = int(time.time())
    claims = {"sub": sub, "roles": roles or [], "apps": apps or [], "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
