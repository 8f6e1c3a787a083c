"""The URL guard refuses every private, internal or metadata target, in every encoding, and passes public ones."""

from __future__ import annotations

import pytest

from chalicelib.invoker import guard
from chalicelib.settings import get_settings
from tests.invoker.guard_cases import HOSTILE, PUBLIC, resolver


@pytest.fixture(autouse=True)
def catalog(settings_env):
    settings_env.setenv("INTERNAL_HOSTS", "catalog.example.com")
    get_settings.cache_clear()


def test_the_tables_are_big_enough():
    assert len(HOSTILE) >= 80 and len(PUBLIC) >= 15
    assert len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_url_is_refused(url):
    with pytest.raises(guard.UrlRefused) as refused:
        guard.check_url(url, resolver=resolver)
    assert refused.value.reason


@pytest.mark.parametrize("url", PUBLIC)
def test_public_url_passes(url):
    target = guard.check_url(url, resolver=resolver)
    assert target.port in (80, 443, 8080, 8000)


def test_the_gateway_origin_is_allowed_exactly():
    assert guard.check_url("http://127.0.0.1:8000/x").allowed_by == "GATEWAY_URL"
    for other in ("http://127.0.0.1:8001/", "https://127.0.0.1:8000/", "http://localhost:8000/"):
        with pytest.raises(guard.UrlRefused):
            guard.check_url(other)


def test_allowed_target_hosts_open_one_host_and_port(settings_env):
    settings_env.setenv("ALLOWED_TARGET_HOSTS", "127.0.0.1:9999, crm-service, [::1]:7000")
    get_settings.cache_clear()
    assert guard.check_url("http://127.0.0.1:9999/x").allowed_by == "ALLOWED_TARGET_HOSTS"
    assert guard.check_url("http://crm-service:4005/").allowed_by == "ALLOWED_TARGET_HOSTS"
    assert guard.check_url("http://[::1]:7000/").allowed_by == "ALLOWED_TARGET_HOSTS"
    for other in ("http://127.0.0.1:9998/", "http://[::1]:7001/", "http://crm-service.local/"):
        with pytest.raises(guard.UrlRefused):
            guard.check_url(other, resolver=resolver)


def test_unresolvable_name_passes_at_create_but_not_at_execution():
    assert guard.check_url("https://not-yet.example.org/", resolver=resolver, must_resolve=False).addresses == ()
    with pytest.raises(OSError):
        guard.check_url("https://not-yet.example.org/", resolver=resolver)


def test_resolved_addresses_are_returned_for_pinning():
    target = guard.check_url("https://example.com/", resolver=resolver)
    assert target.addresses == ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")


@pytest.mark.parametrize(
    ("endpoint", "path", "host"),
    [
        ("https://example.com", "@evil.com/", "example.com"),
        ("https://example.com", "//evil.com/x", "example.com"),
        ("https://example.com/", "/a", "example.com"),
        ("https://example.com/base", "x/y", "example.com"),
        ("https://example.com", "/@169.254.169.254/", "example.com"),
        ("https://example.com", ":80@evil.com/", "example.com"),
    ],
)
def test_composition_never_changes_the_host(endpoint, path, host):
    url, _ = guard.compose({"endpoint": endpoint, "path": path})
    assert guard.check_url(url, resolver=resolver).host == host


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"endpoint": "https://example.com", "path": "\\\\evil.com\\x"}, "taskConfig.path"),
        ({"endpoint": "https://example.com", "path": "/a\r\nHost: evil"}, "taskConfig.path"),
        ({"endpoint": "https://example.com?x=", "path": "/a"}, "taskConfig.endpoint"),
        ({"endpoint": "http://10.0.0.1", "path": "/a"}, "taskConfig.endpoint"),
        ({"url": "http://10.0.0.1/a"}, "taskConfig.url"),
    ],
)
def test_task_config_refusals_name_the_field(config, field):
    with pytest.raises(guard.UrlRefused) as refused:
        guard.check_task_config(config, resolver=resolver)
    assert refused.value.field == field


def test_parameters_in_the_host_defer_the_check_to_execution():
    guard.check_task_config({"url": "https://${T:YYYY}.example.com/x"}, resolver=resolver)
    guard.check_task_config({"endpoint": "https://example.com", "path": "/r/${T:YYYY-MM-DD}"}, resolver=resolver)
    with pytest.raises(guard.UrlRefused):
        guard.check_task_config({"endpoint": "http://127.0.0.1:9", "path": "/r/${T:YYYY}"}, resolver=resolver)


def test_every_hostile_url_is_refused_through_the_api(api, monkeypatch):
    monkeypatch.setattr(guard, "system_resolver", resolver)
    app = api.make_app()
    for index, url in enumerate(HOSTILE):
        body = {"applicationId": app["id"], "name": f"h{index}", "pattern": "* * * * *", "taskConfig": {"url": url}}
        answer = api.post("/_/scheduler/jobs", body)
        assert answer.status == 400, (url, answer.body)
        error = answer.json["error"]
        assert error["code"] in ("URL_NOT_ALLOWED", "VALIDATION_ERROR"), url
        assert error["details"][0]["field"].startswith("taskConfig"), url
    for index, url in enumerate(PUBLIC):
        body = {"applicationId": app["id"], "name": f"p{index}", "pattern": "* * * * *", "taskConfig": {"url": url}}
        assert api.post("/_/scheduler/jobs", body).status == 201, url
