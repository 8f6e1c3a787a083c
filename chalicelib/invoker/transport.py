"""An httpx transport that connects only to addresses the URL guard has checked.

The name is resolved once, every address is checked, and the connection goes to a checked address
(so DNS rebinding between check and connect is impossible); the `Host` header and the TLS SNI and
certificate check keep using the name. Every request - so every redirect hop - passes through here.
"""

from __future__ import annotations

import socket
import ssl
from functools import lru_cache

import httpx

from chalicelib.invoker import guard


class NameNotResolved(Exception):
    """The target's name has no address (ENOTFOUND)."""


@lru_cache(maxsize=1)
def default_tls() -> ssl.SSLContext:
    """The certificate-checking context, built once: loading the CA bundle costs ~18 ms of CPU, which every
    run paid when each call built its own. An SSLContext is safe to share between threads."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


class PinnedTransport(httpx.BaseTransport):
    def __init__(self, resolver: guard.Resolver | None = None, verify: ssl.SSLContext | bool = True) -> None:
        self._resolver = resolver
        context = default_tls() if verify is True else verify
        self._inner = httpx.HTTPTransport(verify=context, retries=0)
        self.connections: list[tuple[str, str]] = []  # (name, address) actually dialled, for logs and tests

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            target = guard.check_url(str(request.url), resolver=self._resolver, method=request.method)
        except (socket.gaierror, UnicodeError) as exc:
            raise NameNotResolved(f"{request.url.host} does not resolve") from exc
        if not target.addresses:  # an allowed host given by name: the operator vouched for it
            self.connections.append((target.host, target.host))
            return self._inner.handle_request(request)
        error: Exception | None = None
        original = request.url
        for address in target.addresses:
            request.url = original.copy_with(host=address)
            if original.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": target.host}
            self.connections.append((target.host, address))
            try:
                return self._inner.handle_request(request)
            except httpx.ConnectError as exc:
                error = exc
            finally:
                request.url = original
        assert error is not None
        raise error

    def close(self) -> None:
        self._inner.close()
