"""Runs never crash on what a target sends: every bad answer ends the run with a stable code, through the real
tick, queue and invoker against a real local server that misbehaves at the HTTP level."""

from __future__ import annotations

import gzip

import pytest

from chalicelib.contracts import json_values
from chalicelib.settings import get_settings
from tests.conftest import ONE_ATTEMPT, YEARLY, RawTarget, store_spec


def answer(status: bytes = b"200 OK", headers: tuple[bytes, ...] = (), body: bytes = b"") -> bytes:
    lines = [b"HTTP/1.1 " + status, *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def redirect(location: bytes) -> bytes:
    return answer(b"302 Found", (b"Location: " + location, b"Content-Length: 0"))


BAD_ANSWERS: dict[str, tuple[bytes, set[str]]] = {
    "idna-location": (redirect(b"http://xn--127-0-0-1/"), {"BAD_REDIRECT"}),
    "unclosed-bracket": (redirect(b"http://[::1/"), {"BAD_REDIRECT"}),
    "no-host": (redirect(b"https:///x"), {"BAD_REDIRECT"}),
    "space-in-host": (redirect(b"http://a b/"), {"BAD_REDIRECT"}),
    "port-out-of-range": (redirect(b"http://example.com:99999/"), {"BAD_REDIRECT"}),
    "percent-host": (redirect(b"http://ex%41mple.com/"), {"BAD_REDIRECT"}),
    "nul-location": (redirect(b"http://example.com/\x00"), {"ECONNRESET"}),  # not even HTTP: h11 refuses the line
    "scheme-relative": (redirect(b"http:127.0.0.1:1/"), {"HTTP_404"}),  # a path on the same origin
    "private-location": (redirect(b"http://10.0.0.1/"), {"URL_NOT_ALLOWED"}),
    "gopher-location": (redirect(b"gopher://example.com/"), {"URL_NOT_ALLOWED"}),
    "latin1-location": (
        redirect("http://bad\u00e9.invalid/".encode("latin-1")),
        {"BAD_REDIRECT", "ENOTFOUND", "URL_NOT_ALLOWED"},
    ),
    "bad-content-length": (answer(headers=(b"Content-Length: abc",), body=b"{}"), {"ECONNRESET"}),
    "two-content-lengths": (answer(headers=(b"Content-Length: 2", b"Content-Length: 3"), body=b"{}"), {"ECONNRESET"}),
    "short-body": (answer(headers=(b"Content-Length: 100",), body=b"{}"), {"ECONNRESET"}),
    "bad-status-line": (b"HTTP/1.1 abc OK\r\n\r\n", {"ECONNRESET"}),
    "not-http": (b"SSH-2.0-OpenSSH\r\n", {"ECONNRESET"}),
    "header-without-colon": (answer(headers=(b"Broken header",), body=b""), {"ECONNRESET"}),
    "huge-header": (answer(headers=(b"X-Big: " + b"a" * 200_000,)), {"ECONNRESET"}),
    "bad-gzip": (
        answer(headers=(b"Content-Encoding: gzip", b"Content-Length: 9"), body=b"not gzip!"),
        {"BAD_RESPONSE"},
    ),
    "bad-chunks": (answer(headers=(b"Transfer-Encoding: chunked",), body=b"zz\r\nhello\r\n0\r\n\r\n"), {"ECONNRESET"}),
    "empty": (b"", {"ECONNRESET"}),
}
GOOD_BUT_ODD: dict[str, bytes] = {
    "nan-json": answer(headers=(b"Content-Type: application/json", b"Content-Length: 11"), body=b'{"a": NaN} '),
    "deep-json": answer(
        headers=(b"Content-Type: application/json", b"Content-Length: 200000"), body=b"[" * 100_000 + b"]" * 100_000
    ),
    "binary": answer(headers=(b"Content-Type: application/json", b"Content-Length: 4"), body=b"\x00\xff\xfe\x01"),
    "latin1-header": answer(headers=("X-Name: caf\u00e9".encode("latin-1"), b"Content-Length: 2"), body=b"ok"),
    "gzip": answer(
        headers=(
            b"Content-Encoding: gzip",
            b"Content-Type: application/json",
            b"Content-Length: " + str(len(gzip.compress(b'{"z": 1}'))).encode(),
        ),
        body=gzip.compress(b'{"z": 1}'),
    ),
}


@pytest.fixture
def raw(settings_env):
    server = RawTarget({**{name: raw for name, (raw, _) in BAD_ANSWERS.items()}, **GOOD_BUT_ODD})
    settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{server.port}")
    yield server
    server.close()
    get_settings.cache_clear()


@pytest.fixture
def app_id(api):
    return api.make_app()["id"]


@pytest.mark.parametrize("name", list(BAD_ANSWERS))
def test_a_bad_answer_ends_the_run_with_its_code(api, engine, raw, app_id, name):
    job = api.make_job(app_id, name=name, pattern=YEARLY, taskConfig={"endpoint": raw.base, "path": f"/{name}"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    execution = engine.run_job(api, job)  # asserts that no message failed (no exception left the invoker)
    assert execution["status"] == "failed", execution
    assert execution["error"]["code"] in BAD_ANSWERS[name][1], execution["error"]
    assert execution["finishedAt"] is not None


def test_an_invalid_redirect_is_not_retried(api, engine, raw, app_id):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": raw.base, "path": "/idna-location"},
                       retryPolicy={"maxAttempts": 3})  # fmt: skip
    execution = engine.run_job(api, job)
    assert execution["status"] == "failed" and execution["attempt"] == 1
    assert execution["error"]["code"] == "BAD_REDIRECT"


@pytest.mark.parametrize("name", list(GOOD_BUT_ODD))
def test_an_odd_but_valid_answer_is_recorded_as_text_or_json(api, engine, raw, app_id, name):
    job = api.make_job(app_id, name=name, pattern=YEARLY, taskConfig={"endpoint": raw.base, "path": f"/{name}"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    execution = engine.run_job(api, job)
    assert execution["status"] == "succeeded", execution
    shown = api.get(f"/_/scheduler/executions/{execution['id']}")
    assert shown.status == 200 and json_values.loads(shown.body, max_depth=64)  # standard JSON, whatever was sent
    if name == "gzip":
        assert execution["result"]["data"] == {"z": 1}
    if name in ("nan-json", "deep-json"):
        assert isinstance(execution["result"]["data"], str)  # kept as the text it was, not as broken JSON


@pytest.mark.parametrize(
    "config",
    [
        {"auth": {"authMethod": "apiKey", "headerName": "Content-Length", "key": "5"}},
        {"auth": {"authMethod": "apiKey", "headerName": "Transfer-Encoding", "key": "chunked"}, "method": "POST",
         "body": {"a": 1}},
        {"headers": {"Host": "evil.example.com"}},
        {"headers": {"X-Emoji": "\U0001f600"}},
        {"headers": {"X-Sep": "a\u2028b"}},
        {"headers": {"X-Bad\n": "v"}},
        {"body": {"a": float("nan")}, "method": "POST"},
    ],
)  # fmt: skip
def test_a_job_stored_before_the_input_rules_still_ends_its_run(api, engine, target, app_id, config):
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base, "path": "/echo"},
                       retryPolicy=ONE_ATTEMPT)  # fmt: skip
    store_spec(job["id"], taskConfig={"endpoint": target.base, "path": "/echo", **config})
    execution = engine.run_job(api, job)
    assert execution["status"] in ("succeeded", "failed") and execution["finishedAt"], execution
