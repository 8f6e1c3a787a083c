"""Authentication (bearer or session cookie; HS256 dev, RS256 JWKS prod) and tenancy."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import free_port, token

JOBS = "/_/scheduler/jobs"


def unauthenticated(answer) -> bool:
    return answer.status == 401 and answer.json["error"]["code"] == "UNAUTHENTICATED"


def test_no_token_is_401(api):
    assert unauthenticated(api.as_user(None).get(JOBS))


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-jwt",
        jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "wrong-secret-0123456789abcdef0123456789", "HS256"),
        jwt.encode({"sub": "x"}, "test-secret-0123456789abcdef0123456789", "HS256"),  # no exp
        jwt.encode({"sub": "x", "exp": int(time.time()) - 3600}, "test-secret-0123456789abcdef0123456789", "HS256"),
        jwt.encode({"exp": int(time.time()) + 60}, "test-secret-0123456789abcdef0123456789", "HS256"),  # no sub
        jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "test-secret-0123456789abcdef0123456789" * 2, "HS512"),
    ],
    ids=["garbage", "wrong-key", "no-exp", "expired", "no-sub", "other-alg"],
)
def test_bad_tokens_are_401(api, bad):
    assert unauthenticated(api.as_user(bad).get(JOBS))


def test_alg_none_is_refused(api):
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"sub": "admin", "roles": ["scheduler:admin"], "exp": int(time.time()) + 600}
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert unauthenticated(api.as_user(unsigned).get(JOBS))


def test_session_cookie_authenticates(api):
    cookie_client = api.as_user(None)
    answer = cookie_client.get(JOBS, headers={"Cookie": f"theme=dark; session={token('carol', admin=True)}"})
    assert answer.status == 200


class JwksServer:
    """A real local JWKS endpoint serving one RSA public key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"

    def sign(self, claims: dict, **headers: str) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1", **headers})


@pytest.fixture
def jwks(settings_env):
    server = JwksServer()
    settings_env.setenv("JWT_JWKS_URL", server.url)
    settings_env.setenv("JWT_ISSUER", "https://id.example.com/")
    settings_env.setenv("JWT_AUDIENCE", "scheduler")
    from chalicelib.settings import get_settings

    get_settings.cache_clear()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_rs256_tokens_from_jwks_with_issuer_and_audience(api, jwks):
    good = {
        "sub": "ops",
        "roles": ["scheduler:admin"],
        "iss": "https://id.example.com/",
        "aud": "scheduler",
        "exp": int(time.time()) + 600,
    }
    assert api.as_user(jwks.sign(good)).get(JOBS).status == 200
    assert unauthenticated(api.as_user(jwks.sign({**good, "aud": "other"})).get(JOBS))
    assert unauthenticated(api.as_user(jwks.sign({**good, "iss": "https://evil.example.com/"})).get(JOBS))
    # an HS256 token signed with the dev secret is refused once RS256 is configured
    assert unauthenticated(api.as_user(token("admin", admin=True)).get(JOBS))


# --- tenancy -----------------------------------------------------------------------------------------


@pytest.fixture
def two_tenants(api):
    demo = api.make_app("demo", "Demo")
    other = api.make_app("other", "Other")
    return api.make_job(demo["id"], name="demo-job"), api.make_job(other["id"], name="other-job")


def test_members_see_only_their_applications_jobs(member, two_tenants):
    demo_job, other_job = two_tenants
    listed = member.get(JOBS).json
    assert [job["name"] for job in listed] == ["demo-job"]
    assert member.get(f"{JOBS}/{demo_job['id']}").status == 200
    for path in (f"{JOBS}/{other_job['id']}", f"{JOBS}/{other_job['id']}/enable"):
        method = member.get if path.endswith(str(other_job["id"])) else member.post
        answer = method(path)
        assert answer.status == 404, path  # no existence leak
    assert member.put(f"{JOBS}/{other_job['id']}", {"description": "x"}).status == 404
    assert member.delete(f"{JOBS}/{other_job['id']}").status == 404
    assert member.get(f"{JOBS}?applicationId={other_job['application']['id']}").status == 404


def test_creating_a_job_in_another_application_is_403(member, two_tenants):
    _, other_job = two_tenants
    body = {
        "applicationId": other_job["application"]["id"],
        "name": "x",
        "pattern": "* * * * *",
        "taskConfig": {"endpoint": "https://api.example.com"},
    }
    answer = member.post(JOBS, body)
    assert answer.status == 403 and answer.json["error"]["code"] == "FORBIDDEN"
    assert member.post(JOBS, {**body, "applicationId": 987654}).status == 403


def test_admin_sees_every_application(api, two_tenants):
    assert {job["name"] for job in api.get(JOBS).json} == {"demo-job", "other-job"}


def test_member_writes_are_recorded_with_their_user(member, two_tenants):
    demo_job, _ = two_tenants
    updated = member.put(f"{JOBS}/{demo_job['id']}", {"description": "mine now"}).json
    assert updated["createdBy"] == "admin" and updated["updatedBy"] == "mia"


def test_prod_stage_without_jwks_refuses_even_valid_dev_tokens(aws):
    from dataclasses import replace

    from chalicelib.auth import verify
    from chalicelib.errors import Unauthenticated
    from chalicelib.settings import get_settings

    valid = token("admin", admin=True)
    assert verify(valid).is_admin
    with pytest.raises(Unauthenticated):
        verify(valid, replace(get_settings(), stage="prod"))
