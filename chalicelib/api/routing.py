"""Bind an operation contract to a Chalice route: authenticate, parse and validate from the declared
models, call the handler, render the reply or the one error shape. No client input yields a 500."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticError

from chalicelib import auth
from chalicelib.auth import Caller
from chalicelib.contracts import checks, json_values
from chalicelib.contracts.base import Operation
from chalicelib.contracts.validation import details_of
from chalicelib.errors import (
    ApiError,
    Forbidden,
    Internal,
    InvalidJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
)
from chalicelib.settings import get_settings

log = logging.getLogger(__name__)
MAX_BODY_BYTES = checks.MAX_BODY_BYTES
JSON_TYPES = ("application/json",)


@dataclass
class Call:
    """What a handler gets: the caller, typed path ids (and checked text parameters: `names`), validated query
    and body, and the raw request."""

    operation: Operation
    caller: Caller | None
    path: dict[str, int]
    query: Any
    body: Any
    json: Any
    request: Request
    names: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A request header the operation declares: its statuses and the document follow from the declaration
        (contracts/checks.py), so a handler cannot act on one the document does not mention."""
        if name not in self.operation.request_headers:
            raise LookupError(f"{self.operation.key} does not declare the request header {name}")
        return self.request.headers.get(name.lower())

    @property
    def user(self) -> Caller:
        assert self.caller is not None
        return self.caller


@dataclass
class Reply:
    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply | Any]
HANDLERS: dict[str, Handler] = {}  # by operation key: what each bound route calls


def bind(blueprint: Blueprint, operation: Operation) -> Callable[[Handler], Handler]:
    """Register `handler` as the route of `operation`."""

    def decorator(handler: Handler) -> Handler:
        HANDLERS[operation.key] = handler

        def view(**path: str) -> Response:
            return dispatch(operation, HANDLERS[operation.key], blueprint.current_request, path)

        view.__name__ = operation.key.replace(".", "_")
        blueprint.route(operation.path, methods=[operation.method], content_types=["*/*"])(view)
        return handler

    return decorator


def dispatch(operation: Operation, handler: Handler, request: Request, path: dict[str, str]) -> Response:
    try:
        caller = _authorize(operation, request)
        absent = operation.optional_body and not (request.raw_body or b"").strip()
        parsed = _parse_json(request) if checks.JSON_BODY.applies(operation) and not absent else None
        call = Call(
            operation=operation,
            caller=caller,
            path={name: _path_id(path[name]) for name in checks.id_params(operation)},
            names={name: _path_text(operation, name, path[name]) for name in operation.path_patterns},
            query=_validate(operation.query, _query(request), "") if operation.query else None,
            body=_validate(operation.input, parsed, "") if operation.input and not absent else None,
            json=parsed,
            request=request,
        )
        result = handler(call)
        reply = result if isinstance(result, Reply) else Reply(body=result)
        return render(operation, reply)
    except ApiError as exc:
        return error_response(exc)
    except PydanticError as exc:
        details = details_of(exc)
        return error_response(ValidationError.for_details(details))
    except Exception:
        log.exception("unhandled error in %s", operation.key)
        return error_response(Internal("internal error; it has been logged"))


def _same_origin(request: Request) -> None:
    """A browser can be made to send a write with its cookie but not with a bearer token, so writes without
    one must come from this origin: a matching `Origin`, or (from a client that sends none) no session
    cookie or the header the Admin UI always sends. A cross-site form post carries a foreign Origin: 403."""
    headers = request.headers
    if auth.bearer_token(headers):
        return
    origin = headers.get("origin")
    if origin is None:
        name, value = checks.UI_HEADER
        if auth.session_cookie(headers) is None or headers.get(name.lower()) == value:
            return
        raise Forbidden(f"a write with the session cookie needs the Origin header or {name}: {value}")
    # The configured public origin only: the request's own Host header is the client's to choose.
    gateway = urlsplit(get_settings().gateway_url)
    if origin.rstrip("/").lower() != f"{gateway.scheme}://{gateway.netloc}".lower():
        raise Forbidden(f"cross-site request refused (Origin {origin[:100]!r} is not GATEWAY_URL's origin)")


def _authorize(operation: Operation, request: Request) -> Caller | None:
    if checks.SAME_ORIGIN.applies(operation):
        _same_origin(request)
    if not checks.AUTHENTICATED.applies(operation):
        return None
    caller = auth.authenticate(request.headers)
    if checks.ADMIN.applies(operation) and not caller.is_admin:
        raise Forbidden("this operation needs the scheduler:admin role")
    return caller


def _path_id(value: str) -> int:
    if not value.isdigit() or len(value) > 16 or int(value) >= 2**53:
        raise NotFound(f"no resource with id {value[:32]}")
    return int(value)


def _path_text(operation: Operation, name: str, value: str) -> str:
    """A text path parameter of the form the contract declares: a write naming another form is the client's
    mistake (400 naming it); a read of one finds nothing (404)."""
    value = unquote(value)
    if re.fullmatch(operation.path_patterns[name], value):
        return value
    if checks.PATH_NAME_WRITE.applies(operation):
        raise ValidationError.for_field(name, f"must match ^{operation.path_patterns[name]}$")
    raise NotFound(f"no {name} {value[:64]!r}")


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def _parse_json(request: Request) -> Any:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if raw and content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"send Content-Type: application/json, not '{content_type or 'none'}'")
    if not raw.strip():
        raise InvalidJson("a JSON object body is required")
    try:
        return json_values.loads(raw)
    except json_values.JsonProblem as exc:
        if exc.path:
            raise InvalidJson(f"{exc.path}: {exc.message}", [{"field": exc.path, "message": exc.message}]) from exc
        raise InvalidJson(f"request body is {exc.message}" if "nested" in exc.message else exc.message) from exc


def _validate(model: type[BaseModel], data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ValidationError.for_field(prefix or "body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        details = details_of(exc, prefix)
        raise ValidationError.for_details(details) from exc


def render(operation: Operation, reply: Reply) -> Response:
    status = reply.status or operation.status
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **reply.headers}
    if status == 204:
        return Response(body="", status_code=204, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    if get_settings().validate_responses and operation.output is not None and status < 300:
        try:
            TypeAdapter(operation.output).validate_python(reply.body)
        except PydanticError as exc:  # the server's bug, not the client's: a 500 the tests see
            raise ResponseOffSchema(f"{operation.key} answered off its schema: {exc}") from exc
    return Response(body=json_values.dumps(reply.body), status_code=status, headers=headers)


class ResponseOffSchema(Exception):
    """A response that does not match its operation's declared output (VALIDATE_RESPONSES=1, the tests)."""


CHALICE_CODES = {405: MethodNotAllowed}


def chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: the few errors Chalice answers itself before a route runs (405 for a method a path does
    not serve) get the service's one error shape, keeping their headers (`Allow`)."""
    response = get_response(event)
    body = response.body
    kind = CHALICE_CODES.get(response.status_code)
    if kind is not None and isinstance(body, dict) and "Code" in body and "error" not in body:
        headers = {name: str(value) for name, value in (response.headers or {}).items()}
        error = kind(str(body.get("Message") or kind.code), headers=headers)
        return error_response(error)
    return response


def error_response(exc: ApiError) -> Response:
    return Response(
        body=json.dumps(exc.body()),
        status_code=exc.status,
        headers={"Content-Type": "application/json", **exc.headers},
    )


# --- pagination -----------------------------------------------------------------------------------


def decode_cursor(cursor: str | None) -> int:
    """The id after which a page starts; 400 naming `cursor` when it is not one of ours."""
    if cursor is None:
        return 0
    try:
        if len(cursor) > 200:
            raise ValueError
        value = json_values.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        after = int(value["after"])
        if not 0 <= after < 2**53:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError.for_field("cursor", "is not a cursor returned by this API") from exc


def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def page_reply(call: Call, items: list[dict[str, Any]], more: bool, last_id: int | None) -> Reply:
    """A bare JSON array; `X-Next-Cursor` and `Link: <…>; rel="next"` announce the next page."""
    headers: dict[str, str] = {}
    if more and last_id is not None:
        cursor = encode_cursor(last_id)
        path = call.request.path
        for name, value in (call.request.uri_params or {}).items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        query = urlencode({**_query(call.request), "cursor": cursor})
        link = f"{get_settings().gateway_url}{path}?{query}"
        headers = {"X-Next-Cursor": cursor, "Link": f'<{link}>; rel="next"'}
    return Reply(body=items, headers=headers)
