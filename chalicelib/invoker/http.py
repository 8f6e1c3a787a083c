"""The one guarded outbound HTTP call: every hop checked, body capped, each failure mapped to one code.

Codes: ETIMEDOUT, ECONNREFUSED, ENOTFOUND, ECONNRESET, TLS_ERROR (the network; retryable), URL_NOT_ALLOWED,
TOO_MANY_REDIRECTS, BAD_REDIRECT (a Location that is not a valid URL), INVALID_REQUEST (the job's request cannot
be sent as HTTP, e.g. a header value stored before the rules refused it), BAD_RESPONSE (an answer that cannot be
decoded), CALL_ERROR (anything else), and HTTP_<status> for a non-2xx answer (decided by the caller). No
exception leaves `call` but CallFailed, and no CallFailed message quotes a header value.

On a redirect to another origin (scheme, host or port) every credential header is dropped: whatever the job's
`auth` adds, every header the masking rules treat as secret, Cookie and Proxy-Authorization, and the request's
signature (another origin could replay it to the target within its tolerance). A hop to the same origin is signed
again over what it sends (a 303 sends no body).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from chalicelib import signing
from chalicelib.contracts import json_values
from chalicelib.contracts.headers import is_credential
from chalicelib.invoker import guard
from chalicelib.invoker.transport import NameNotResolved, PinnedTransport
from chalicelib.observability import traced

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 * 1024
KEPT_HEADERS = ("content-type", "content-length", "location", "retry-after", "etag", "date", "x-request-id")
REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": "scheduler/1.0"}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    data: Any
    truncated: bool
    text: str = ""

    def as_result(self, limit: int) -> dict[str, Any]:
        """What a run's record keeps: the status, the headers that matter, and at most `limit` characters of the
        body (parsed JSON when it fits, else text with `truncated: true`), so a chatty target cannot multiply the
        write units of every run."""
        data, truncated = self.data, self.truncated
        if len(self.text) > limit:
            data, truncated = self.text[:limit], True
        result: dict[str, Any] = {"status": self.status, "headers": self.headers, "data": data}
        if truncated:
            result["truncated"] = True
        return result


class CallFailed(Exception):
    """The call produced no HTTP answer; `code` is one of the codes above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    timeout_ms: int
    credential_headers: frozenset[str] = frozenset({"authorization", "proxy-authorization", "cookie"})
    message_id: str | None = None  # the run's identity, signed by each of `signers` (Standard Webhooks)
    signers: tuple[signing.Signer, ...] = ()


def _sign(outgoing: httpx.Request, request: Request) -> None:
    """The `webhook-*` headers over exactly what this hop sends, timestamped now."""
    if request.message_id is None or not request.signers:
        return
    signed = signing.headers(request.message_id, int(time.time()), outgoing.read(), list(request.signers))
    for name, value in signed.items():
        outgoing.headers[name] = value


def _read(response: httpx.Response, deadline: float) -> Response:
    chunks, size, truncated = [], 0, False
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            truncated = True
            break
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the whole call exceeded its timeout")
    raw = b"".join(chunks)[:MAX_BODY_BYTES]
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    data: Any = text
    if not truncated and "json" in response.headers.get("content-type", "") and text:
        try:
            data = json_values.loads(text)
        except json_values.JsonProblem:
            data = text  # not JSON as the service stores it (NaN, too deep, invalid): kept as the text it was
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return Response(response.status_code, headers, data, truncated, text)


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    host = url.raw_host.decode("ascii", "replace").lower().rstrip(".")  # as sent: `.host` would decode IDNA
    return scheme, host, url.port or guard.DEFAULT_PORTS.get(scheme, 0)


def _location(request: httpx.Request, response: httpx.Response) -> httpx.URL:
    """Where the answer redirects to; BAD_REDIRECT when that is not a URL (another scheme is the guard's to
    refuse, as URL_NOT_ALLOWED)."""
    try:
        url = request.url.join(response.headers["location"])
        if url.scheme.lower() in guard.SCHEMES:
            guard.parse(str(url))
            url.host  # noqa: B018 - decodes the IDNA labels: an invalid one (xn--127-0-0-1) is no URL
    except (httpx.InvalidURL, UnicodeError, ValueError, guard.UrlRefused) as exc:
        raise CallFailed("BAD_REDIRECT", "the target redirected to a Location that is not a valid URL") from exc
    return url


def _next_hop(request: httpx.Request, response: httpx.Response, credentials: frozenset[str]) -> httpx.Request:
    url = _location(request, response)
    method = request.method
    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
        method = "GET" if method != "HEAD" else "HEAD"
    headers = httpx.Headers(request.headers)
    headers.pop("host", None)
    if _origin(url) != _origin(request.url):  # never hand credentials to another origin
        for name in list(headers.keys()):
            if name.lower() in credentials or is_credential(name):
                headers.pop(name, None)
    content = request.content if method == request.method and method not in ("GET", "HEAD") else None
    if content is None:
        headers.pop("content-length", None)
        headers.pop("content-type", None)
    return httpx.Request(method, url, headers=headers, content=content)


def call(request: Request, resolver: guard.Resolver | None = None, verify: ssl.SSLContext | bool = True) -> Response:
    """Send `request` through the pinned transport, following at most 5 redirects, each re-checked."""
    with traced("call"):
        return _call(request, resolver, verify)


def _call(request: Request, resolver: guard.Resolver | None, verify: ssl.SSLContext | bool) -> Response:
    seconds = request.timeout_ms / 1000
    deadline = time.monotonic() + seconds
    timeout = {"timeout": httpx.Timeout(seconds).as_dict()}
    try:
        content = json_values.dumps(request.body).encode() if request.body is not None else None
    except (ValueError, RecursionError) as exc:
        raise CallFailed("INVALID_REQUEST", "the job's body is not standard JSON (NaN, Infinity or too deep)") from exc
    try:
        headers = httpx.Headers({**DEFAULT_HEADERS, **request.headers})
        if content is not None:
            headers.setdefault("Content-Type", "application/json")
        # The transport itself, not httpx.Client: the client parses a redirect's Location before we can, and a bad
        # one would leave it with an exception that is not ours to classify.
        with PinnedTransport(resolver=resolver, verify=verify) as transport:
            outgoing = httpx.Request(request.method, request.url, headers=headers, content=content, extensions=timeout)
            _sign(outgoing, request)
            for hop in range(MAX_REDIRECTS + 1):
                response = transport.handle_request(outgoing)
                response.request = outgoing
                try:
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        if hop == MAX_REDIRECTS:
                            raise CallFailed("TOO_MANY_REDIRECTS", f"more than {MAX_REDIRECTS} redirects")
                        outgoing = _next_hop(outgoing, response, request.credential_headers)
                        outgoing.extensions = timeout
                        if signing.SIGNATURE_HEADER in outgoing.headers:  # the same origin: sign what it sends
                            _sign(outgoing, request)
                        continue
                    return _read(response, deadline)
                finally:
                    response.close()
    except CallFailed:
        raise
    except guard.UrlRefused as exc:
        raise CallFailed("URL_NOT_ALLOWED", exc.reason) from exc
    except NameNotResolved as exc:
        raise CallFailed("ENOTFOUND", str(exc)) from exc
    except httpx.TimeoutException as exc:
        raise CallFailed("ETIMEDOUT", f"no answer within {request.timeout_ms} ms") from exc
    except httpx.ConnectError as exc:
        if _is_tls(exc):
            raise CallFailed("TLS_ERROR", f"TLS handshake failed: {exc}") from exc
        raise CallFailed("ECONNREFUSED", f"connection failed: {exc}") from exc
    except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:  # our request: its text may quote a header
        raise CallFailed(
            "INVALID_REQUEST", "the job's request cannot be sent as HTTP (a header or URL is malformed)"
        ) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ProtocolError) as exc:
        raise CallFailed("ECONNRESET", f"connection broken: {exc}") from exc
    except httpx.DecodingError as exc:
        raise CallFailed("BAD_RESPONSE", f"the answer could not be decoded: {exc}") from exc
    except httpx.HTTPError as exc:
        raise CallFailed("ECONNRESET", f"HTTP error: {exc}") from exc
    except Exception as exc:
        raise CallFailed("CALL_ERROR", f"the call failed ({type(exc).__name__})") from exc
    raise CallFailed("TOO_MANY_REDIRECTS", "redirect loop")  # unreachable: the loop returns or raises


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen) or "CERTIFICATE" in str(seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False
