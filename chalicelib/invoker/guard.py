"""The URL guard: the one place that decides "may the scheduler call this URL?".

Used at job create/update (static URLs), by bootstrap sync, and by the invoker for every request and
every redirect hop. A URL is parsed once, by httpx's parser (the one that sends the request). Its host
is normalised (IDNA, trailing dot, every IPv4 spelling the C resolver accepts) and refused unless it
is a public name whose every address is globally routable. `GATEWAY_URL`'s exact origin and the
`ALLOWED_TARGET_HOSTS` entries are allowed regardless. At execution the address checked is the one
connected to (see `transport.PinnedTransport`).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

from chalicelib.contracts.base import API_PREFIX
from chalicelib.settings import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
INTERNAL_SUFFIXES = (
    ".localhost",
    ".internal",
    ".local",
    ".localdomain",
    ".home.arpa",
    ".svc",
    ".cluster.local",
    ".corp",
    ".lan",
    ".intranet",
    ".private",
)
METADATA_HOSTS = frozenset(
    {
        "localhost",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
        "kubernetes.default",
    }
)
BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    )
)  # fmt: skip
BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/128", "::1/128", "::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UrlRefused(Exception):
    """The URL may not be called; `reason` says why in words a user can act on."""

    def __init__(self, reason: str, field: str = "url") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, with the addresses checked (connect to one of these, nothing else)."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[str, ...] = field(default_factory=tuple)
    allowed_by: str | None = None


def system_resolver(host: str, port: int) -> list[str]:
    """Every A and AAAA address of `host`; raises socket.gaierror when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- addresses ----------------------------------------------------------------------------------


def parse_ip(host: str) -> Address | None:
    """The address `host` denotes, in any spelling the platform resolver accepts; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if all(ch in "0123456789abcdefx." for ch in host) and host:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))  # 127.1, 0x7f.1, 2130706433, 0177.0.0.1
        except OSError:
            return None
    return None


def address_problem(address: Address) -> str | None:
    """Why `address` may not be called, or None when it is globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"it carries the IPv4 address {embedded}, which {problem}" if problem else None
        if address.teredo is not None:
            return "is a Teredo tunnel address"
        if any(address in net for net in BLOCKED_V6) or not address.is_global:
            return f"{address} is a loopback, private, link-local or reserved IPv6 address"
        return None
    if any(address in net for net in BLOCKED_V4) or not address.is_global or address.is_multicast:
        return f"{address} is a loopback, private, link-local, shared, reserved or multicast address"
    return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


# --- names --------------------------------------------------------------------------------------


def name_problem(host: str) -> str | None:
    """Why the host name may not be called (internal or metadata names), or None."""
    settings = get_settings()
    if host in METADATA_HOSTS:
        return f"{host} is a local or cloud metadata name"
    if host.endswith(INTERNAL_SUFFIXES):
        return f"{host} is an internal name; call internal services through the gateway"
    if "." not in host:
        return f"{host} is a single-label (internal service) name; call it through the gateway"
    for internal in settings.internal_hosts:
        if host == internal.rstrip(".") or (internal.startswith(".") and host.endswith(internal)):
            return f"{host} is an internal catalog service; call it through the gateway"
    return None


def _normalise_host(url: httpx.URL) -> str:
    raw = url.raw_host.decode("ascii", "replace")
    if not raw:
        raise UrlRefused("the URL has no host")
    if "%" in raw:
        raise UrlRefused("percent-encoded characters or zone ids are not accepted in the host")
    host = raw.lower().rstrip(".")
    if not host or not all(ch.isalnum() or ch in "-.:" for ch in host):
        raise UrlRefused(f"'{raw}' is not a valid host name")
    return host


# --- the decision -------------------------------------------------------------------------------


def _allowed_by(scheme: str, host: str, port: int) -> str | None:
    settings = get_settings()
    gateway = httpx.URL(settings.gateway_url)
    gateway_port = gateway.port or DEFAULT_PORTS.get(gateway.scheme, 0)
    if (scheme, host, port) == (gateway.scheme, gateway.host.lower().rstrip("."), gateway_port):
        return "GATEWAY_URL"
    display = f"[{host}]" if ":" in host else host
    for entry in settings.allowed_target_hosts:
        if entry in (display, f"{display}:{port}"):
            return "ALLOWED_TARGET_HOSTS"
    return None


def parse(url: str) -> tuple[httpx.URL, str, int]:
    """Parse once; refuse schemes other than http(s), userinfo, bad hosts and ports."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise UrlRefused(f"not a valid URL ({exc})") from exc
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlRefused(f"only http and https URLs may be called, not '{scheme or 'no scheme'}'")
    if parsed.userinfo:
        raise UrlRefused("credentials in the URL (user:password@) are not accepted; use taskConfig.auth")
    host = _normalise_host(parsed)
    port = parsed.port or DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise UrlRefused(f"port {port} is out of range")
    return parsed, host, port


SELF_CHECK = (f"{API_PREFIX}/health", ("GET", "HEAD"))


def _normal_path(path: str) -> str:
    """The path as a server would route it: percent-decoded (repeatedly), slashes collapsed, dot segments
    resolved, lower case."""
    for _ in range(4):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    path = re.sub(r"/{2,}", "/", "/" + path.replace("\\", "/"))
    return posixpath.normpath(path).lower()


def api_path_problem(url: httpx.URL, method: str) -> str | None:
    """This API's own paths are no target on its own origin (a job could trigger itself in a loop); only the
    health check the demo calls is."""
    gateway = httpx.URL(get_settings().gateway_url)
    host = url.raw_host.decode("ascii", "replace").lower().rstrip(".")
    if (url.scheme.lower(), host, url.port or DEFAULT_PORTS.get(url.scheme.lower(), 0)) != (
        gateway.scheme, gateway.host.lower().rstrip("."), gateway.port or DEFAULT_PORTS.get(gateway.scheme, 0)
    ):  # fmt: skip
        return None
    path = _normal_path(url.raw_path.decode("ascii", "replace").split("?", 1)[0])
    if API_PREFIX not in path:
        return None
    health, methods = SELF_CHECK
    if path.endswith(health) and path[: -len(health)] in ("", gateway.path.rstrip("/").lower()) and method in methods:
        return None
    return f"the scheduler's own API ({API_PREFIX}/…) cannot be a job's target, except GET {health}"


def check_url(url: str, *, resolver: Resolver | None = None, must_resolve: bool = True, method: str = "GET") -> Target:
    """Decide whether `url` may be called with `method`. Raises UrlRefused; `socket.gaierror` when the name does
    not resolve and `must_resolve` (at execution); at create/update an unresolvable name passes for now."""
    parsed, host, port = parse(url)
    api_problem = api_path_problem(parsed, method.upper())
    if api_problem:
        raise UrlRefused(api_problem)
    allowed = _allowed_by(parsed.scheme.lower(), host, port)
    address = parse_ip(host)
    if allowed:
        return Target(parsed, host, port, (str(address),) if address else (), allowed)
    if address is not None:
        problem = address_problem(address)
        if problem:
            raise UrlRefused(f"the host {problem}")
        return Target(parsed, host, port, (str(address),))
    problem = name_problem(host)
    if problem:
        raise UrlRefused(problem)
    try:
        addresses = (resolver or system_resolver)(host, port)
    except (socket.gaierror, UnicodeError):
        if must_resolve:
            raise
        return Target(parsed, host, port)
    for text in addresses:
        if _allowed_by(parsed.scheme.lower(), text, port) == "ALLOWED_TARGET_HOSTS":
            continue  # the operator allowed this exact address
        problem = address_problem(ipaddress.ip_address(text.split("%")[0]))
        if problem:
            raise UrlRefused(f"{host} resolves to an address that is not public: {problem}")
    return Target(parsed, host, port, tuple(addresses))


# --- task configuration -------------------------------------------------------------------------


def compose(config: dict[str, object]) -> tuple[str, str]:
    """The URL a task calls and the field to blame for the host; endpoint + path can never change the host."""
    if config.get("url") is not None:
        return str(config["url"]), "taskConfig.url"
    endpoint = str(config.get("endpoint") or "")
    path = str(config.get("path") or "/")
    if "\\" in path or any(ord(ch) < 0x20 for ch in path):
        raise UrlRefused("backslashes and control characters are not accepted in the path", "taskConfig.path")
    if "\\" in endpoint or "?" in endpoint or "#" in endpoint:
        raise UrlRefused("endpoint must be a base URL without backslashes, query or fragment", "taskConfig.endpoint")
    return endpoint.rstrip("/") + "/" + path.lstrip("/"), "taskConfig.endpoint"


def authority_is_dynamic(url: str) -> bool:
    """True when a ${…} parameter sits in the scheme or host part (checked at execution instead)."""
    rest = url.split("://", 1)[1] if "://" in url else url
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return "${" in url.split("://", 1)[0] or "${" in authority


def check_task_config(config: dict[str, object], resolver: Resolver | None = None) -> None:
    """Create/update check: static URLs now; URLs with parameters in the host at execution. UrlRefused naming
    the field to blame (taskConfig.url, .endpoint or .path) otherwise."""
    field_name = "taskConfig.url" if config.get("url") is not None else "taskConfig.endpoint"
    try:
        url, field_name = compose(config)
        if authority_is_dynamic(url):
            return
        static = url.replace("${", "0{")  # parameters in the path keep it a path; the host is what matters here
        check_url(static, resolver=resolver, must_resolve=False, method=str(config.get("method") or "GET"))
    except UrlRefused as exc:
        if exc.field == "url":
            exc.field = field_name
        raise
