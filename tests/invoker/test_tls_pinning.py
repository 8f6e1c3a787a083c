"""Pinning keeps TLS honest: the connection goes to the checked address, SNI and the certificate check use the name."""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.invoker import http
from chalicelib.settings import get_settings
from tests.conftest import free_port

NAME = "secure.example.com"


def self_signed(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def https_target(tmp_path, settings_env):
    cert, key = self_signed(tmp_path)
    seen: dict[str, list] = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["host"].append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b'{"tls": 1} ')

        def log_message(self, *args: object) -> None:
            pass

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{server.server_port}")
    get_settings.cache_clear()
    yield server.server_port, ssl.create_default_context(cafile=cert), seen
    server.shutdown()
    server.server_close()


def to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_tls_to_a_pinned_address_verifies_the_name(https_target):
    port, trust, seen = https_target
    request = http.Request("GET", f"https://{NAME}:{port}/", {}, None, 5000)
    response = http.call(request, resolver=to_loopback, verify=trust)
    assert response.status == 200 and response.data == {"tls": 1}
    assert seen["sni"] == [NAME] and seen["host"] == [f"{NAME}:{port}"]


def test_a_certificate_for_another_name_fails_with_tls_error(https_target):
    port, trust, _ = https_target
    request = http.Request("GET", f"https://other.example.com:{port}/", {}, None, 5000)
    with pytest.raises(http.CallFailed) as failed:
        http.call(request, resolver=to_loopback, verify=trust)
    assert failed.value.code == "TLS_ERROR"
