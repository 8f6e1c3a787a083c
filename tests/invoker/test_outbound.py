"""The guarded call against real local servers: DNS pinning, every redirect hop re-checked."""

from __future__ import annotations

import pytest

from chalicelib.invoker import http
from chalicelib.settings import get_settings
from tests.conftest import Target


def get(url: str, resolver=None, headers=None) -> http.Response:
    return http.call(http.Request("GET", url, headers or {}, None, 5000), resolver=resolver)


class Flipping:
    """A resolver whose answer changes after the first look-up (a DNS rebinding attacker)."""

    def __init__(self, first: str, then: str) -> None:
        self.answers, self.calls = [first, then], 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.answers[min(self.calls - 1, 1)]]


def test_the_address_checked_is_the_address_connected(target):
    resolver = Flipping("127.0.0.1", "10.0.0.9")
    response = get(f"http://flip.example.com:{target.port}/echo", resolver)
    assert response.status == 200
    assert resolver.calls == 1  # resolved once; the connection used that very answer
    assert target.requests[0]["headers"]["Host"] == f"flip.example.com:{target.port}"


def test_a_name_that_rebinds_to_private_is_refused_before_any_request(target):
    resolver = Flipping("10.0.0.9", "127.0.0.1")
    with pytest.raises(http.CallFailed) as failed:
        get(f"http://flip.example.com:{target.port}/echo", resolver)
    assert failed.value.code == "URL_NOT_ALLOWED" and target.requests == []


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:1/",
        "http://[::1]/",
        "http://localhost/",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
    ],
)
def test_a_redirect_to_a_private_address_or_other_scheme_is_refused(target, location):
    with pytest.raises(http.CallFailed) as failed:
        get(f"{target.base}/redirect?to={location}")
    assert failed.value.code == "URL_NOT_ALLOWED"
    assert len(target.requests) == 1


def test_a_redirect_to_another_local_port_is_refused_and_never_reached(target):
    other = Target()
    try:
        with pytest.raises(http.CallFailed):
            get(f"{target.base}/redirect?to={other.base}/echo")
        assert other.requests == []
    finally:
        other.close()


def test_same_origin_redirects_are_followed(target):
    response = get(f"{target.base}/redirect?to=/echo", headers={"Authorization": "Bearer t"})
    assert response.status == 200 and response.data["path"] == "/echo"
    assert target.requests[1]["headers"]["Authorization"] == "Bearer t"


def test_credentials_are_not_forwarded_to_another_origin(target, settings_env):
    other = Target()
    try:
        settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{target.port},127.0.0.1:{other.port}")
        get_settings.cache_clear()
        response = get(f"{target.base}/redirect?to={other.base}/echo", headers={"Authorization": "Bearer t"})
        assert response.status == 200
        assert "Authorization" not in other.requests[0]["headers"]
    finally:
        other.close()


def test_at_most_five_redirects(target):
    with pytest.raises(http.CallFailed) as failed:
        get(f"{target.base}/loop")
    assert failed.value.code == "TOO_MANY_REDIRECTS"
    assert len(target.requests) == 6


def test_post_becomes_get_on_a_302(target):
    location = "/echo"
    response = http.call(http.Request("POST", f"{target.base}/redirect?to={location}", {}, {"a": 1}, 5000))
    assert response.status == 200 and response.data["method"] == "GET"
