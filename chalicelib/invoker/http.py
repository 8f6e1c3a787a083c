"""The one guarded outbound HTTP call: every hop checked, body capped, each failure mapped to one code.

Codes: ETIMEDOUT, ECONNREFUSED, ENOTFOUND, ECONNRESET, TLS_ERROR, URL_NOT_ALLOWED, TOO_MANY_REDIRECTS,
and HTTP_<status> for a non-2xx answer (decided by the caller).
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from chalicelib.invoker import guard
from chalicelib.invoker.transport import NameNotResolved, PinnedTransport
from chalicelib.observability import tracer

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 * 1024
KEPT_HEADERS = ("content-type", "content-length", "location", "retry-after", "etag", "date", "x-request-id")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    data: Any
    truncated: bool

    def as_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"status": self.status, "headers": self.headers, "data": self.data}
        if self.truncated:
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
            data = json.loads(text)
        except ValueError:
            data = text
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return Response(response.status_code, headers, data, truncated)


def _next_hop(request: httpx.Request, response: httpx.Response) -> httpx.Request:
    location = response.headers["location"]
    url = request.url.join(location)
    method = request.method
    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
        method = "GET" if method != "HEAD" else "HEAD"
    headers = httpx.Headers(request.headers)
    headers.pop("host", None)
    if (url.scheme, url.host, url.port) != (request.url.scheme, request.url.host, request.url.port):
        headers.pop("authorization", None)  # never hand credentials to another origin
    content = request.content if method == request.method and method not in ("GET", "HEAD") else None
    if content is None:
        headers.pop("content-length", None)
        headers.pop("content-type", None)
    return httpx.Request(method, url, headers=headers, content=content)


@tracer.capture_method(capture_response=False)
def call(request: Request, resolver: guard.Resolver | None = None, verify: ssl.SSLContext | bool = True) -> Response:
    """Send `request` through the pinned transport, following at most 5 redirects, each re-checked."""
    seconds = request.timeout_ms / 1000
    deadline = time.monotonic() + seconds
    transport = PinnedTransport(resolver=resolver, verify=verify)
    try:
        with httpx.Client(transport=transport, timeout=httpx.Timeout(seconds), trust_env=False) as client:
            outgoing = client.build_request(
                request.method,
                request.url,
                headers=request.headers,
                json=request.body if request.body is not None else None,
            )
            for hop in range(MAX_REDIRECTS + 1):
                response = client.send(outgoing, stream=True)
                try:
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        if hop == MAX_REDIRECTS:
                            raise CallFailed("TOO_MANY_REDIRECTS", f"more than {MAX_REDIRECTS} redirects")
                        outgoing = _next_hop(outgoing, response)
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
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ProtocolError) as exc:
        raise CallFailed("ECONNRESET", f"connection broken: {exc}") from exc
    except httpx.HTTPError as exc:
        raise CallFailed("ECONNRESET", f"HTTP error: {exc}") from exc
    raise CallFailed("TOO_MANY_REDIRECTS", "redirect loop")  # unreachable: the loop returns or raises


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen) or "CERTIFICATE" in str(seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False
