# ruff: noqa: RUF001 - full-width and enclosed characters are the point of these cases
"""URL guard test tables: hostile URLs that must be refused, public ones that must pass."""

from __future__ import annotations

import socket

# Names the fake resolver knows: public ones, and names that resolve (partly) to private addresses.
DNS = {
    "example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "api.github.com": ["140.82.112.6"],
    "xn--bcher-kva.de": ["81.169.145.78"],
    "hooks.slack.com": ["34.226.36.32"],
    "rebind.example.com": ["10.0.0.5"],
    "dual.example.com": ["93.184.215.14", "127.0.0.1"],
    "v6private.example.com": ["fd00::1"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
    "imds.example.com": ["169.254.169.254"],
    "catalog.example.com": ["93.184.215.20"],
}


def resolver(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


HOSTILE = [
    # schemes other than http/https, scheme-less, empty or malformed hosts
    "file:///etc/passwd", "FILE:///etc/passwd", "ftp://example.com/x", "gopher://example.com:70/_x",
    "dict://example.com:11211/stat", "ldap://example.com/o=x", "data:text/plain,hello", "javascript:alert(1)",
    "jar:http://example.com!/x", "ws://example.com/", "example.com/path", "//example.com/x", "http://",
    "http:///path", "http://[::1/", "http://[127.0.0.1]/", "http://example.com:99999/", "http://exa mple.com/",
    # loopback, every spelling
    "http://127.0.0.1/", "http://127.0.0.1:8001/", "https://127.0.0.1:8000/", "http://127.1/", "http://0x7f.1/",
    "http://0x7f000001/", "http://2130706433/", "http://017700000001/", "http://0177.0.0.1/",
    "http://127.000.000.001/", "http://127.255.255.254/", "http://[::1]/", "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://localhost/", "http://LOCALHOST/",
    "http://localhost./", "http://api.localhost/", "http://0/", "http://0.0.0.0/", "http://[::]/",
    # private ranges
    "http://10.0.0.1/", "http://10.255.255.255/", "http://172.16.0.1/", "http://172.31.255.254/",
    "http://192.168.1.1/", "http://0xa000001/", "http://167772161/", "http://012.0.0.1/", "http://[fd00::1]/",
    "http://[fc00::1]/", "http://[::ffff:10.0.0.1]/", "http://[64:ff9b::10.0.0.1]/", "http://[64:ff9b::a00:1]/",
    "http://[2002:a00:1::]/", "http://[2002:7f00:1::]/",
    # link-local and cloud metadata
    "http://169.254.169.254/latest/meta-data/", "http://169.254.0.1/", "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/", "http://metadata.google.internal/computeMetadata/v1/", "http://metadata/",
    "http://instance-data/", "http://METADATA.GOOGLE.INTERNAL./", "http://0xa9fea9fe/", "http://2852039166/",
    "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
    "http://192.0.0.192/",
    # shared (CGNAT), benchmarking, documentation, protocol, multicast, reserved, broadcast, Teredo
    "http://100.64.0.1/", "http://100.127.255.254/", "http://198.18.0.1/", "http://198.19.255.255/",
    "http://192.0.2.1/", "http://198.51.100.1/", "http://203.0.113.1/", "http://[2001:db8::1]/",
    "http://192.0.0.8/", "http://192.88.99.1/", "http://224.0.0.1/", "http://239.255.255.250/",
    "http://[ff02::1]/", "http://240.0.0.1/", "http://255.255.255.255/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    # internal names
    "http://crm-service/health", "http://crm-service:4005/api", "http://intranet/", "http://db.internal/",
    "http://printer.local/", "http://nas.localdomain/", "http://router.home.arpa/", "http://api.default.svc/",
    "http://api.default.svc.cluster.local/", "http://host.corp/", "http://box.lan/", "http://catalog.example.com/",
    # userinfo, and hosts in encodings a parser might read differently
    "http://user:pass@example.com/", "http://user@example.com/", "http://example.com\\@evil.com/",
    "http://a.com%2F@evil.com/", "http://%31%32%37.0.0.1/", "http://127%2e0%2e0%2e1/",
    "http://%6c%6f%63%61%6c%68%6f%73%74/", "http://ｌｏｃａｌｈｏｓｔ/", "http://１２７.０.０.１/",
    "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
    # names whose DNS answers include a blocked address
    "https://rebind.example.com/", "https://dual.example.com/", "https://v6private.example.com/",
    "https://mapped.example.com/", "http://imds.example.com/latest/meta-data/",
]  # fmt: skip

PUBLIC = [
    "https://example.com/", "https://EXAMPLE.COM./x?y=1", "http://example.com:8080/a/b", "https://api.github.com/",
    "https://hooks.slack.com/services/T/B/x", "https://bücher.de/", "http://8.8.8.8/", "https://1.1.1.1/dns-query",
    "http://172.32.0.1/", "http://100.128.0.1/", "http://192.169.0.1/", "http://11.0.0.1/", "http://169.255.0.1/",
    "http://198.20.0.1/", "http://223.255.255.1/", "http://[2606:4700:4700::1111]/",
    "http://[2001:4860:4860::8888]/", "http://127.0.0.1:8000/_/scheduler/health",
]  # fmt: skip
