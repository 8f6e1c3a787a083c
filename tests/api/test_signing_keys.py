"""An application's signing keys through the API: created with the application, rotated, retired, isolated between
tenants, never shown twice, and encrypted at rest (under KMS when SIGNING_KMS_KEY_ID is set)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from standardwebhooks import Webhook

from chalicelib.settings import get_settings
from tests.conftest import ONE_ATTEMPT, ROOT, YEARLY

APPS = "/_/scheduler/applications"


def keys_url(app_id, *rest):
    return "/".join([f"{APPS}/{app_id}/signing-keys", *rest])


def raw_items():
    """The keys table as stored, every attribute as DynamoDB holds it."""
    return boto3.client("dynamodb").scan(TableName=get_settings().keys_table)["Items"]


def secret_forms(secret):
    """The ways a secret could be written down: as shown, its bytes in base64, and in hex."""
    material = base64.b64decode(secret.removeprefix("whsec_"))
    return [secret, secret.removeprefix("whsec_"), base64.b64encode(material).decode(), material.hex()]


def test_an_application_is_created_with_a_key_whose_secret_is_shown_once(api):
    app = api.make_app()
    first = app["signingKey"]
    assert first["type"] == "hmac" and first["secret"].startswith("whsec_")
    assert len(base64.b64decode(first["secret"].removeprefix("whsec_"))) == 32
    listed = api.get(keys_url(app["id"])).json
    assert listed == [{"id": first["id"], "type": "hmac", "createdAt": listed[0]["createdAt"], "expiresAt": None}]
    assert "signingKey" not in api.get(f"{APPS}/{app['id']}").json


def test_created_keys_show_their_secret_or_public_key_once_and_reads_never_a_secret(api):
    app = api.make_app()
    hmac_key = api.post(keys_url(app["id"]), {"type": "hmac"})
    assert hmac_key.status == 201 and hmac_key.json["secret"].startswith("whsec_") and "publicKey" not in hmac_key.json
    pair = api.post(keys_url(app["id"]), {"type": "ed25519", "expiresAt": "2999-01-01T00:00:00+02:00"})
    assert pair.status == 201 and "secret" not in pair.json
    assert pair.json["expiresAt"] == "2998-12-31T22:00:00.000Z"
    assert len(base64.b64decode(pair.json["publicKey"].removeprefix("whpk_"))) == 32
    listed = api.get(keys_url(app["id"])).json
    assert [key["id"] for key in listed] == [app["signingKey"]["id"], hmac_key.json["id"], pair.json["id"]]
    assert all(set(key) <= {"id", "type", "createdAt", "expiresAt", "publicKey"} for key in listed)
    assert api.post(keys_url(app["id"]), {}).json["type"] == "hmac"  # hmac unless asked otherwise


def test_the_last_key_that_does_not_expire_cannot_be_retired(api):
    app = api.make_app()
    first = app["signingKey"]["id"]
    refused = api.delete(keys_url(app["id"], first))
    assert refused.status == 409 and "at least one active signing key" in refused.json["error"]["message"]
    expiring = api.post(keys_url(app["id"]), {"type": "hmac", "expiresAt": "2999-01-01T00:00:00Z"}).json
    assert api.delete(keys_url(app["id"], first)).status == 409  # an expiring key would leave it unsigned one day
    assert api.delete(keys_url(app["id"], expiring["id"])).status == 204
    second = api.post(keys_url(app["id"]), {"type": "ed25519"}).json
    assert api.delete(keys_url(app["id"], first)).status == 204
    assert [key["id"] for key in api.get(keys_url(app["id"])).json] == [second["id"]]
    assert api.delete(keys_url(app["id"], first)).status == 404  # retired already
    assert api.delete(keys_url(app["id"], "key_0123456789abcdef")).status == 404
    assert api.delete(keys_url(app["id"], "not-a-key")).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "rsa"}, "type"),
        ({"type": "hmac", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"type": "hmac", "expiresAt": "tomorrow"}, "expiresAt"),
        ({"type": "hmac", "expiresAt": 4102444800}, "expiresAt"),
        ({"type": "hmac", "secret": "whsec_chosen"}, "secret"),
    ],
)
def test_a_bad_key_request_is_a_400_naming_the_field(api, body, field):
    app = api.make_app()
    answer = api.post(keys_url(app["id"]), body)
    assert answer.status == 400 and answer.error_fields() == [field], answer.json


def test_an_application_holds_at_most_ten_active_keys(api):
    app = api.make_app()
    for _ in range(9):
        assert api.post(keys_url(app["id"]), {"type": "hmac"}).status == 201
    full = api.post(keys_url(app["id"]), {"type": "ed25519"})
    assert full.status == 409 and "at most 10" in full.json["error"]["message"]


def test_other_tenants_get_404_on_every_keys_endpoint_and_members_manage_their_own(api, member, outsider):
    app = api.make_app("demo")
    first = app["signingKey"]["id"]
    for answer in (outsider.get(keys_url(app["id"])), outsider.post(keys_url(app["id"]), {"type": "hmac"}),
                   outsider.delete(keys_url(app["id"], first))):  # fmt: skip
        assert answer.status == 404 and answer.json["error"]["code"] == "NOT_FOUND"
    assert [key["id"] for key in api.get(keys_url(app["id"])).json] == [first]  # nothing changed
    created = member.post(keys_url(app["id"]), {"type": "hmac"})
    assert created.status == 201 and len(member.get(keys_url(app["id"])).json) == 2
    assert member.delete(keys_url(app["id"], created.json["id"])).status == 204
    assert api.as_user(None).get(keys_url(app["id"])).status == 401
    assert api.as_user(None).get(keys_url(987654, "public")).status == 404


def test_secrets_never_appear_in_a_response_a_log_line_an_event_a_run_or_the_table(api, engine, target, log_lines,
                                                                                     bus_queue):  # fmt: skip
    app = api.make_app()
    extra = api.post(keys_url(app["id"]), {"type": "hmac"}).json
    pair = api.post(keys_url(app["id"]), {"type": "ed25519"}).json
    task = {"endpoint": target.base, "path": "/echo", "method": "POST", "body": {"a": 1}}
    job = api.make_job(app["id"], pattern=YEARLY, retryPolicy=ONE_ATTEMPT, taskConfig=task)
    execution = engine.run_job(api, job)
    Webhook(extra["secret"]).verify(target.requests[-1]["body"], target.requests[-1]["headers"], json_parse=False)
    seen = [api.get(path).body.decode() for path in (keys_url(app["id"]), keys_url(app["id"], "public"),
            f"{APPS}/{app['id']}", f"/_/scheduler/jobs/{job['id']}", f"/_/scheduler/executions/{execution['id']}",
            f"/_/scheduler/jobs/{job['id']}/executions")]  # fmt: skip
    seen += [json.dumps(line) for line in log_lines()] + [json.dumps(event) for event in bus_queue()]
    seen += [json.dumps(item) for item in raw_items()]
    text = "\n".join(seen)
    assert pair["publicKey"] in text  # the public key is public
    for secret in (app["signingKey"]["secret"], extra["secret"]):
        for form in secret_forms(secret):
            assert form not in text
    signing_item = next(item for item in raw_items() if item["key"]["S"] == f"signing#{app['id']}")
    assert "kms" in json.loads(signing_item["data"]["S"])["dataKey"]  # the dev stage's configuration names KMS


def test_without_kms_the_master_key_wraps_the_data_key(api, engine, target, settings_env):
    """`make run`'s way: no KMS, SIGNING_MASTER_KEY (the dev default here) wraps each application's data key."""
    settings_env.setenv("SIGNING_KMS_KEY_ID", "")
    assert get_settings().signing_kms_key_id is None  # read now: the test client's stage variables name KMS
    app = api.make_app()
    job = api.make_job(app["id"], pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/echo", "method": "POST", "body": {}})  # fmt: skip
    engine.run_job(api, job)
    Webhook(app["signingKey"]["secret"]).verify(target.requests[-1]["body"], target.requests[-1]["headers"])
    signing_item = next(item for item in raw_items() if item["key"]["S"] == f"signing#{app['id']}")
    assert set(json.loads(signing_item["data"]["S"])["dataKey"]) == {"local"}
    settings_env.setenv("SIGNING_MASTER_KEY", "another-master-key-of-at-least-32-bytes")
    assert get_settings().signing_kms_key_id is None
    from chalicelib.store import signing_keys

    signing_keys.reset()
    execution = engine.run_job(api, job)  # a data key wrapped by another master key cannot be opened
    assert execution["status"] == "failed" and execution["error"]["code"] == "CALL_ERROR"


def test_under_kms_the_data_key_is_wrapped_for_its_application_only(api, engine, target, settings_env):
    """With the key infra/template.yaml creates, found by the alias the dev stage's configuration names."""
    kms = boto3.client("kms")
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]["environment_variables"]
    settings_env.setenv("SIGNING_KMS_KEY_ID", config["SIGNING_KMS_KEY_ID"])
    app = api.make_app()
    job = api.make_job(app["id"], pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/echo"})  # fmt: skip
    assert engine.run_job(api, job)["status"] == "succeeded"
    Webhook(app["signingKey"]["secret"]).verify(
        target.requests[-1]["body"], target.requests[-1]["headers"], json_parse=False
    )
    item = next(item for item in raw_items() if item["key"]["S"] == f"signing#{app['id']}")
    wrapped = base64.b64decode(json.loads(item["data"]["S"])["dataKey"]["kms"])
    opened = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"applicationId": str(app["id"])})
    assert len(opened["Plaintext"]) == 32
    with pytest.raises(kms.exceptions.InvalidCiphertextException):  # another application's context
        kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"applicationId": str(app["id"] + 1)})


def test_an_application_from_before_signing_gets_a_key_before_its_next_run(api, engine, target):
    app = api.make_app()
    boto3.client("dynamodb").delete_item(TableName=get_settings().keys_table,
                                         Key={"key": {"S": f"signing#{app['id']}"}})  # fmt: skip
    job = api.make_job(app["id"], pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                       taskConfig={"endpoint": target.base, "path": "/echo"})  # fmt: skip
    engine.run_job(api, job)
    headers = {name.lower(): value for name, value in target.requests[-1]["headers"].items()}
    assert headers["webhook-signature"].startswith("v1,")
    (system_key,) = api.get(keys_url(app["id"])).json
    created = api.post(keys_url(app["id"]), {"type": "hmac"}).json  # how its owner learns a secret
    engine.run_job(api, job)
    Webhook(created["secret"]).verify(target.requests[-1]["body"], target.requests[-1]["headers"], json_parse=False)
    assert api.delete(keys_url(app["id"], system_key["id"])).status == 204
