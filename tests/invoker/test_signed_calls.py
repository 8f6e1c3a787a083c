"""Targets can trust every call: each request is signed in the Standard Webhooks format and carries the run's
identity. Signatures are checked with the `standardwebhooks` package (HMAC, `v1`) and with `cryptography`'s ed25519
against the served public key (`v1a`), never with the scheduler's own signer."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import ONE_ATTEMPT, ROOT, YEARLY, Target
from tests.engine.test_retries import FAST, deliver_until_done

APPS = "/_/scheduler/applications"
RESERVED = ["webhook-id", "webhook-timestamp", "webhook-signature", "X-Scheduler-Job-Id",
            "X-Scheduler-Execution-Id", "X-Scheduler-Scheduled-For", "X-Scheduler-Attempt"]  # fmt: skip


@pytest.fixture
def app(api):
    return api.make_app()


def create(api, app, **task):
    """A job create's answer, the task given as `task` (a URL unless it says otherwise)."""
    body = {"applicationId": app["id"], "name": "x", "pattern": YEARLY,
            "taskConfig": {"url": "https://api.example.com/", **task}}  # fmt: skip
    return api.post("/_/scheduler/jobs", body)


def job_for(api, app, target, path="/echo", **task):
    config = {"endpoint": target.base, "path": path, **task}
    return api.make_job(app["id"], pattern=YEARLY, taskConfig=config, retryPolicy=ONE_ATTEMPT)


def received(target, index=-1):
    request = target.requests[index]
    return request["body"], {name.lower(): value for name, value in request["headers"].items()}


def signatures(headers, version):
    return [part.split(",", 1)[1] for part in headers["webhook-signature"].split(" ") if part.split(",")[0] == version]


def verify_ed25519(public_key, body, headers):
    """The standard's asymmetric check, with `cryptography`: a `v1a` signature over `{id}.{timestamp}.{body}`."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    for signature in signatures(headers, "v1a"):
        try:
            key.verify(base64.b64decode(signature), content)
            return True
        except InvalidSignature:
            continue
    return False


# --- signatures ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_call_verifies_with_the_standard_webhooks_library_and_the_secret_shown_at_create(
    api, engine, target, app, method
):
    body = {"report": "daily", "ü": "✓"} if method == "POST" else None
    job = job_for(api, app, target, method=method, **({"body": body} if body else {}))
    assert engine.run_job(api, job)["status"] == "succeeded"
    raw, headers = received(target)
    if method == "GET":
        assert raw == b""
    assert Webhook(app["signingKey"]["secret"]).verify(raw, headers, json_parse=False) is None
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 30
    assert headers["webhook-id"].startswith("run_")


def test_a_tampered_body_or_a_stale_timestamp_fails_verification(api, engine, target, app):
    job = job_for(api, app, target, method="POST", body={"amount": 10})
    engine.run_job(api, job)
    raw, headers = received(target)
    webhook = Webhook(app["signingKey"]["secret"])
    with pytest.raises(WebhookVerificationError):
        webhook.verify(raw.replace(b"10", b"99"), headers)
    with pytest.raises(WebhookVerificationError):  # a replay ten minutes later
        webhook.verify(raw, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)})
    with pytest.raises(WebhookVerificationError):  # another run's identity
        webhook.verify(raw, {**headers, "webhook-id": "run_1"})
    with pytest.raises(WebhookVerificationError):  # another application's secret
        Webhook(api.make_app("other")["signingKey"]["secret"]).verify(raw, headers)


def test_rotation_signs_with_both_keys_then_only_the_new_one_after_the_old_is_retired(api, engine, target, app):
    job = job_for(api, app, target, method="POST", body={"n": 1})
    old = app["signingKey"]
    new = api.post(f"{APPS}/{app['id']}/signing-keys", {"type": "hmac"}).json
    engine.run_job(api, job)
    raw, headers = received(target)
    assert len(signatures(headers, "v1")) == 2
    for key in (old, new):
        Webhook(key["secret"]).verify(raw, headers)

    assert api.delete(f"{APPS}/{app['id']}/signing-keys/{old['id']}").status == 204
    engine.run_job(api, job)
    raw, headers = received(target)
    assert len(signatures(headers, "v1")) == 1
    Webhook(new["secret"]).verify(raw, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old["secret"]).verify(raw, headers)


def test_an_ed25519_key_signs_v1a_verified_with_the_served_public_key(api, engine, target, app):
    created = api.post(f"{APPS}/{app['id']}/signing-keys", {"type": "ed25519"}).json
    assert "secret" not in created and created["publicKey"].startswith("whpk_")
    served = api.as_user(None).get(f"{APPS}/{app['id']}/signing-keys/public")  # no token: targets fetch it
    assert served.status == 200 and served.json == [{"id": created["id"], "publicKey": created["publicKey"]}]
    job = job_for(api, app, target, method="PUT", body=[1, 2, 3])
    engine.run_job(api, job)
    raw, headers = received(target)
    assert len(signatures(headers, "v1a")) == 1 and len(signatures(headers, "v1")) == 1
    assert verify_ed25519(created["publicKey"], raw, headers)
    assert not verify_ed25519(created["publicKey"], raw + b" ", headers)
    Webhook(app["signingKey"]["secret"]).verify(raw, headers)  # the hmac key still signs beside it


def test_a_key_stops_signing_when_it_expires(api, engine, target, app):
    expires = time.time() + 3
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(expires)) + f".{int(expires * 1000) % 1000:03d}Z"
    soon = api.post(f"{APPS}/{app['id']}/signing-keys", {"type": "hmac", "expiresAt": at}).json
    assert soon["expiresAt"] == at
    job = job_for(api, app, target)
    engine.run_job(api, job)
    assert len(signatures(received(target)[1], "v1")) == 2
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    engine.run_job(api, job)
    raw, headers = received(target)
    assert len(signatures(headers, "v1")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(soon["secret"]).verify(raw, headers)
    assert [key["id"] for key in api.get(f"{APPS}/{app['id']}/signing-keys").json] == [app["signingKey"]["id"]]


def test_a_job_that_opts_out_sends_no_signature_but_still_its_identity(api, engine, target, app):
    job = job_for(api, app, target, sign=False)
    assert job["taskConfig"]["sign"] is False
    execution = engine.run_job(api, job)
    _, headers = received(target)
    assert not [name for name in headers if name.startswith("webhook-")]
    assert headers["x-scheduler-job-id"] == str(job["id"])
    assert headers["x-scheduler-execution-id"] == str(execution["id"])


def readme_snippet(language):
    """The README's code block in `language` from its "Verifying calls" section."""
    section = (ROOT / "README.md").read_text().split("## Verifying calls", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_readme_s_python_target_accepts_a_real_call_and_refuses_a_tampered_one(api, engine, target, app):
    job = job_for(api, app, target, method="POST", body={"n": 1})
    engine.run_job(api, job)
    raw, headers = received(target)
    scope: dict = {}
    exec(readme_snippet("python").replace("whsec_…", app["signingKey"]["secret"]), scope)  # noqa: S102 - our README
    scope["handle"](raw, headers)
    with pytest.raises(PermissionError):
        scope["handle"](raw + b" ", headers)


# --- the run's identity ------------------------------------------------------------------------------------------


def test_every_attempt_of_a_retried_run_carries_the_same_identity_and_its_own_attempt(api, engine, target, app):
    task = {"endpoint": target.base, "path": "/flaky/2", "method": "POST", "body": {"a": 1}}
    job = api.make_job(app["id"], pattern=YEARLY, retryPolicy=FAST, taskConfig=task)
    slot = engine.make_due(job["id"])
    engine.run_due()
    (execution,) = deliver_until_done(engine, job["id"])
    assert execution.status == "succeeded" and execution.attempt == 3
    attempts = [{k.lower(): v for k, v in r["headers"].items()} for r in target.requests]
    assert {h["webhook-id"] for h in attempts} == {f"run_{execution.id}"}
    assert {h["x-scheduler-execution-id"] for h in attempts} == {str(execution.id)}
    assert {h["x-scheduler-job-id"] for h in attempts} == {str(job["id"])}
    assert [h["x-scheduler-attempt"] for h in attempts] == ["1", "2", "3"]
    scheduled = {h["x-scheduler-scheduled-for"] for h in attempts}
    assert scheduled == {api.get(f"/_/scheduler/executions/{execution.id}").json["scheduledFor"]}
    assert scheduled.pop().startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(slot / 1000)))
    for request in target.requests:  # each attempt is signed over its own timestamp
        Webhook(app["signingKey"]["secret"]).verify(request["body"], request["headers"])


@given(name=st.sampled_from(RESERVED), flips=st.lists(st.booleans(), min_size=30, max_size=30))
def test_a_job_cannot_set_the_run_identity_or_signature_headers_in_any_case(api, app, name, flips):
    cased = "".join(ch.upper() if flip else ch.lower() for ch, flip in zip(name, flips, strict=False))
    answer = create(api, app, headers={cased: "1"})
    assert answer.status == 400 and answer.error_fields() == [f"taskConfig.headers.{cased}"]
    answer = create(api, app, auth={"authMethod": "apiKey", "headerName": cased, "key": "k"})
    assert answer.status == 400 and answer.error_fields() == ["taskConfig.auth.headerName"]


def test_an_update_cannot_set_them_either(api, app):
    job = api.make_job(app["id"])
    answer = api.put(f"/_/scheduler/jobs/{job['id']}", {"taskConfig": {"headers": {"Webhook-Signature": "v1,x"}}})
    assert answer.status == 400 and answer.error_fields() == ["taskConfig.headers.Webhook-Signature"]


# --- redirects -----------------------------------------------------------------------------------------------------


def test_a_same_origin_redirect_is_signed_again_over_what_it_sends(api, engine, target, app):
    job = job_for(api, app, target, path=f"/redirect?to={target.base}/landing", method="POST", body={"x": 1})
    engine.run_job(api, job)
    first, hop = target.requests[-2], target.requests[-1]
    assert hop["method"] == "GET" and hop["body"] == b""  # a 302 after POST is followed with GET, no body
    for request in (first, hop):
        Webhook(app["signingKey"]["secret"]).verify(request["body"], request["headers"], json_parse=False)


def test_another_origin_gets_no_signature_it_could_replay(api, engine, target, app, settings_env):
    other = Target()
    try:
        settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{target.port},127.0.0.1:{other.port}")
        job = job_for(api, app, target, path=f"/redirect?to={other.base}/elsewhere")
        engine.run_job(api, job)
        headers = {name.lower() for name in other.requests[-1]["headers"]}
        assert "webhook-signature" not in headers and "x-scheduler-job-id" in headers
    finally:
        other.close()


# --- success criteria ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expect", "status", "message"),
    [
        ("/status/204", {"status": ["2xx"]}, "succeeded", None),
        ("/status/304", {"status": ["2xx", 304]}, "succeeded", None),
        ("/status/404", {"status": [200, "4xx"]}, "succeeded", None),
        ("/status/200", {"status": [204]}, "failed", "the target answered HTTP 200, not one of 204"),
        ("/echo", {"bodyContains": '"method": "GET"'}, "succeeded", None),
        ("/echo", {"bodyContains": "healthy"}, "failed", "does not contain the expected text"),
        ("/echo", {"json": {"pointer": "/method", "equals": "GET"}}, "succeeded", None),
        (
            "/echo",
            {"json": {"pointer": "/method", "equals": "POST"}},
            "failed",
            'at /method is not "POST" (it is "GET")',
        ),
        ("/echo", {"json": {"pointer": "/missing", "equals": 1}}, "failed", "has no value at /missing"),
        ("/big", {"json": {"pointer": "/a", "equals": 1}}, "failed", "too large to read as JSON"),
        ("/status/500", {"bodyContains": "bad"}, "failed", "the target answered HTTP 500, not one of 2xx"),
    ],
)
def test_expect_decides_success_and_names_the_criterion_missed(api, engine, target, app, path, expect, status,
                                                               message):  # fmt: skip
    job = job_for(api, app, target, path=path, expect=expect)
    assert job["taskConfig"]["expect"] == expect  # echoed as given: codes as numbers, classes as strings
    execution = engine.run_job(api, job)
    assert execution["status"] == status, execution
    if message is None:
        assert execution.get("error") is None
    else:
        assert execution["error"]["code"] == "UNEXPECTED_RESPONSE" and message in execution["error"]["message"]


def test_a_json_health_check_that_says_down_fails(api, engine, target, app):
    job = job_for(api, app, target, path="/status/200", expect={"json": {"pointer": "/state", "equals": "up"}})
    execution = engine.run_job(api, job)
    assert execution["error"] == {"code": "UNEXPECTED_RESPONSE",
                                  "message": 'the answer\'s value at /state is not "up" (it is "bad")'}  # fmt: skip


def test_a_missed_expectation_is_retried_only_when_its_status_is_retryable(api, engine, target, app):
    flaky = api.make_job(app["id"], "flaky", pattern=YEARLY, retryPolicy=FAST,
                         taskConfig={"endpoint": target.base, "path": "/flaky/1",
                                     "expect": {"json": {"pointer": "/state", "equals": "ok"}}})  # fmt: skip
    engine.make_due(flaky["id"])
    engine.run_due()
    (execution,) = deliver_until_done(engine, flaky["id"])
    assert execution.status == "succeeded" and execution.attempt == 2
    assert execution.attempts[0]["error"]["code"] == "UNEXPECTED_RESPONSE"

    wrong = api.make_job(app["id"], "wrong", pattern=YEARLY, retryPolicy=FAST,
                         taskConfig={"endpoint": target.base, "path": "/status/200",
                                     "expect": {"bodyContains": "never there"}})  # fmt: skip
    engine.make_due(wrong["id"])
    engine.run_due()
    assert engine.receive(wait=2) == []  # a 200 that misses is not retried
    (execution,) = engine.executions(wrong["id"])
    assert execution.status == "failed" and execution.attempt == 1


@pytest.mark.parametrize(
    ("expect", "field"),
    [
        ({"bodyContains": "x" * 257}, "taskConfig.expect.bodyContains"),
        ({"status": []}, "taskConfig.expect.status"),
        ({"json": {"pointer": "status", "equals": 1}}, "taskConfig.expect.json.pointer"),
        ({"json": {"pointer": "/a", "equals": "x" * 2000}}, "taskConfig.expect.json.equals"),
        ({"unknown": 1}, "taskConfig.expect.unknown"),
    ],
)
def test_a_bad_expectation_is_a_400_naming_it(api, app, expect, field):
    answer = create(api, app, expect=expect)
    assert answer.status == 400 and field in answer.error_fields(), answer.json


@pytest.mark.parametrize("bad", [True, "2XX", "6xx", 99, 600, "200", 200.0])
def test_a_status_that_is_neither_a_code_nor_a_class_is_refused(api, app, bad):
    answer = create(api, app, expect={"status": [bad]})
    assert answer.status == 400 and any(f.startswith("taskConfig.expect.status") for f in answer.error_fields())


RFC_6901_DOCUMENT = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, 'k"l': 6,
                     " ": 7, "m~n": 8}  # fmt: skip
RFC_6901_EXAMPLES = {"": RFC_6901_DOCUMENT, "/foo": ["bar", "baz"], "/foo/0": "bar", "/": 0, "/a~1b": 1, "/c%d": 2,
                     "/e^f": 3, "/g|h": 4, "/i\\j": 5, '/k"l': 6, "/ ": 7, "/m~0n": 8}  # fmt: skip


def test_pointers_find_what_rfc_6901_says_they_find(api, engine, target, app):
    """The RFC's own example document and table (section 5), served by the target as its answer."""
    for index, (pointer, value) in enumerate(RFC_6901_EXAMPLES.items()):
        for equals, status in ((value, "succeeded"), ({"not": value}, "failed")):
            task = {"endpoint": target.base, "path": "/mirror", "method": "POST", "body": RFC_6901_DOCUMENT,
                    "expect": {"json": {"pointer": pointer, "equals": equals}}}  # fmt: skip
            job = api.make_job(app["id"], f"pointer-{index}-{status}", pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                               taskConfig=task)  # fmt: skip
            assert engine.run_job(api, job)["status"] == status, (pointer, equals)


def test_json_equality_is_json_s_not_python_s(api, engine, target, app):
    """`true` is not `1`, `1` is `1.0`, objects compare by every key."""
    cases = [
        ({"v": True}, 1, "failed"),
        ({"v": 1.0}, 1, "succeeded"),
        ({"v": {"a": 1, "b": 2}}, {"a": 1}, "failed"),
        ({"v": [1, 2]}, [1, 2], "succeeded"),
        ({"v": None}, None, "succeeded"),
        ({"v": 0}, False, "failed"),
    ]
    for index, (document, equals, status) in enumerate(cases):
        task = {"endpoint": target.base, "path": "/mirror", "method": "POST", "body": document,
                "expect": {"json": {"pointer": "/v", "equals": equals}}}  # fmt: skip
        job = api.make_job(app["id"], f"equality-{index}", pattern=YEARLY, retryPolicy=ONE_ATTEMPT, taskConfig=task)
        assert engine.run_job(api, job)["status"] == status, (document, equals)
