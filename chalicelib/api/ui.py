"""The Admin UI: static files under /_/scheduler/ui (plain ES modules and one stylesheet, no build step),
and the browser session (the spec's `session=<JWT>` cookie) it signs in with. The UI reads and writes only
through the public REST API."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import jwt
from chalice import Blueprint, Response

from chalicelib import auth
from chalicelib.api.routing import Call, Reply, bind, error_response
from chalicelib.clock import iso
from chalicelib.contracts import session as contract
from chalicelib.contracts.base import API_PREFIX
from chalicelib.errors import NotFound
from chalicelib.services import applications as app_service
from chalicelib.settings import get_settings

bp = Blueprint(__name__)
ASSETS = Path(__file__).resolve().parents[1] / "ui"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")  # fmt: skip
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _load() -> dict[str, tuple[bytes, str, str]]:
    files = {}
    for path in sorted(ASSETS.iterdir()):
        if path.suffix in TYPES:
            body = path.read_bytes()
            files[path.name] = (body, TYPES[path.suffix], '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
    return files


FILES = _load()


def _asset(name: str) -> Response:
    if name not in FILES:
        response = error_response(NotFound(f"no UI file {name[:64]}"))
        response.headers.update(SECURITY_HEADERS)
        return response
    body, content_type, etag = FILES[name]
    headers: dict[str, str | list[str]] = {**SECURITY_HEADERS, "Content-Type": content_type, "ETag": etag}
    if bp.current_request.headers.get("if-none-match") == etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body.decode(), status_code=200, headers=headers)


@bp.route(f"{API_PREFIX}/ui", methods=["GET"])
def index() -> Response:
    """The page; asked for as `/ui/` (as many people type it), a redirect to `/ui`, where its relative asset
    links resolve."""
    full = str((bp.current_request.context or {}).get("path") or "")
    if full.endswith("/"):
        headers: dict[str, str | list[str]] = {**SECURITY_HEADERS, "Location": full.rstrip("/")}
        return Response(body="", status_code=308, headers=headers)
    return _asset("index.html")


@bp.route(f"{API_PREFIX}/ui/assets/{{name}}", methods=["GET"])
def asset(name: str) -> Response:
    return _asset(name)


# --- session ---------------------------------------------------------------------------------------


def _cookie_path(call: Call) -> str:
    """`/_/scheduler`, behind whatever stage prefix API Gateway adds (`/api/_/scheduler`)."""
    full = str((call.request.context or {}).get("path") or call.request.path)
    return full[: full.rfind("/session")] or API_PREFIX


def _cookie(call: Call, value: str, max_age: int) -> str:
    parts = [f"session={value}", f"Path={_cookie_path(call)}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if not get_settings().local_dev:
        parts.append("Secure")
    return "; ".join(parts)


def _session(caller: auth.Caller, expires: int | None) -> dict[str, Any]:
    apps = app_service.names_for(caller)
    return {"user": caller.user, "admin": caller.is_admin, "apps": apps,
            "expiresAt": iso(expires * 1000) if expires else None}  # fmt: skip


def _expiry(token: str) -> int | None:
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return int(exp) if isinstance(exp, int | float) else None


@bind(bp, contract.CREATE)
def create(call: Call) -> Reply:
    token = call.body.token
    caller = auth.verify(token)
    expires = _expiry(token)
    max_age = max(0, expires - int(time.time())) if expires else 3600
    return Reply(body=_session(caller, expires), headers={"Set-Cookie": _cookie(call, token, max_age)})


@bind(bp, contract.GET)
def current(call: Call) -> dict[str, Any]:
    token = auth.token_from(call.request.headers)
    return _session(call.user, _expiry(token) if token else None)


@bind(bp, contract.DELETE)
def delete(call: Call) -> Reply:
    return Reply(status=204, headers={"Set-Cookie": _cookie(call, "", 0)})
