"""Alert channels through the API: created with the URL shown once and masked after, guarded like job targets,
sealed at rest, isolated between tenants; test sends reach real local receivers (a Standard Webhooks receiver
checked with the `standardwebhooks` package, and a "slack" one), and every send is recorded."""

from __future__ import annotations

import json

import boto3
import pytest
from standardwebhooks import Webhook

from chalicelib.settings import get_settings

APPS = "/_/scheduler/applications"


def channels_url(app_id, *rest):
    return "/".join([f"{APPS}/{app_id}/channels", *map(str, rest)])


def received(target, path):
    return [request for request in target.requests if request["path"] == path]


@pytest.fixture
def app(api):
    return api.make_app()


def make_channel(api, app_id, url, **fields):
    answer = api.post(channels_url(app_id), {"name": "ops", "type": "webhook", "url": url, **fields})
    assert answer.status == 201, answer.body
    return answer.json


def test_a_channel_url_is_shown_once_then_masked_after_its_host(api, app, target):
    url = f"{target.base}/hooks/T000/secret-path"
    created = make_channel(api, app["id"], url, events=["failing", "recovered"])
    assert created["url"] == url and created["events"] == ["failing", "recovered"] and created["createdBy"] == "admin"
    masked = f"{target.base}/********"
    shown = api.get(channels_url(app["id"], created["id"])).json
    assert shown["url"] == masked and {key: value for key, value in shown.items() if key != "url"} == {
        key: value for key, value in created.items() if key != "url"
    }
    assert [channel["url"] for channel in api.get(channels_url(app["id"])).json] == [masked]
    stored = json.dumps(boto3.client("dynamodb").scan(TableName=get_settings().keys_table)["Items"])
    assert "secret-path" not in stored  # sealed with the application's data key


def test_a_partial_update_replaces_what_it_names_and_the_mask_sent_back_keeps_the_url(api, app, target):
    created = make_channel(api, app["id"], f"{target.base}/first")
    one = channels_url(app["id"], created["id"])
    answer = api.put(one, {"name": "pager", "events": ["late"], "url": created["url"].replace("/first", "/********")})
    assert answer.status == 200 and answer.json["name"] == "pager" and answer.json["events"] == ["late"]
    assert api.post(one + "/test").json == {"status": 200}
    assert [r["path"] for r in target.requests] == ["/first"]  # the stored URL, kept
    other_mask = api.put(one, {"url": "https://elsewhere.example.com/********"})
    assert other_mask.status == 400 and other_mask.error_fields() == ["url"]  # a mask is never stored as the URL
    moved = api.put(one, {"url": f"{target.base}/second", "type": "slack"})
    assert moved.json["url"] == f"{target.base}/********" and moved.json["type"] == "slack"
    api.post(one + "/test")
    assert [r["path"] for r in target.requests] == ["/first", "/second"]
    assert api.delete(one).status == 204
    assert api.get(one).status == 404 and api.delete(one).status == 404 and api.get(channels_url(app["id"])).json == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://10.1.2.3/hook", "http://localhost/hook",
     "https://metadata.google.internal/", "ftp://hooks.example.com/x", "http://user:pw@hooks.example.com/"],
)  # fmt: skip
def test_private_and_odd_urls_are_refused_naming_url_on_create_and_update(api, app, target, url):
    refused = api.post(channels_url(app["id"]), {"name": "bad", "type": "webhook", "url": url})
    assert refused.status == 400 and refused.json["error"]["code"] == "URL_NOT_ALLOWED"
    assert refused.error_fields() == ["url"]
    created = make_channel(api, app["id"], f"{target.base}/ok")
    answer = api.put(channels_url(app["id"], created["id"]), {"url": url})
    assert answer.status == 400 and answer.error_fields() == ["url"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"events": []}, "events"), ({"events": ["failing", "failing"]}, "events"), ({"events": ["test"]}, "events.0"),
     ({"type": "email"}, "type"), ({"name": ""}, "name"), ({"colour": "red"}, "colour")],
)  # fmt: skip
def test_bad_fields_are_refused_by_name(api, app, target, body, field):
    answer = api.post(channels_url(app["id"]), {"name": "ops", "type": "webhook", "url": f"{target.base}/x", **body})
    assert answer.status == 400 and field in answer.error_fields(), answer.json


def test_names_are_unique_within_an_application(api, app, target):
    make_channel(api, app["id"], f"{target.base}/a")
    again = api.post(channels_url(app["id"]), {"name": "ops", "type": "slack", "url": f"{target.base}/b"})
    assert again.status == 409 and again.json["error"]["code"] == "CONFLICT"


def test_other_tenants_get_404_on_every_channel_endpoint_and_members_manage_them(api, member, outsider, target):
    app = api.make_app("demo")
    api.make_app("other")
    channel = make_channel(member, app["id"], f"{target.base}/hook")
    one = channels_url(app["id"], channel["id"])
    create = {"name": "x", "type": "slack", "url": f"{target.base}/x"}
    for answer in (outsider.get(channels_url(app["id"])), outsider.get(one), outsider.put(one, {"name": "x"}),
                   outsider.post(one + "/test"), outsider.get(one + "/deliveries"), outsider.delete(one),
                   outsider.post(channels_url(app["id"]), create)):  # fmt: skip
        assert answer.status == 404 and answer.json["error"]["code"] == "NOT_FOUND"
    assert target.requests == [] and member.get(one).json["name"] == "ops"
    other = api.make_app("elsewhere")
    assert api.get(channels_url(other["id"], channel["id"])).status == 404  # a channel belongs to its application


def test_a_webhook_test_send_is_signed_with_the_applications_key_and_recorded(api, app, target):
    channel = make_channel(api, app["id"], f"{target.base}/hook")
    one = channels_url(app["id"], channel["id"])
    assert api.post(one + "/test").json == {"status": 200}
    (request,) = received(target, "/hook")
    headers = {name.lower(): value for name, value in request["headers"].items()}
    alert = Webhook(app["signingKey"]["secret"]).verify(request["body"], headers)  # raises unless ours
    assert alert["type"] == "test" and alert["job"] is None and headers["webhook-id"].startswith("alert_test_")
    (delivery,) = api.get(one + "/deliveries").json
    assert delivery["status"] == "delivered" and delivery["httpStatus"] == 200 and delivery["type"] == "test"
    assert delivery["id"] == headers["webhook-id"] and delivery["attempt"] == 1 and delivery["error"] is None


def test_a_slack_test_send_posts_text_and_a_refusing_receiver_is_answered_and_recorded(api, app, target):
    slack = make_channel(api, app["id"], f"{target.base}/status/404", type="slack", name="slack")
    answer = api.post(channels_url(app["id"], slack["id"], "test"))
    assert answer.status == 200 and answer.json == {"status": 404}
    (request,) = received(target, "/status/404")
    text = json.loads(request["body"])["text"]
    assert set(json.loads(request["body"])) == {"text"} and "channel slack works" in text
    assert not {name.lower() for name in request["headers"]} & {"webhook-signature"}  # slack gets text only
    (failed,) = api.get(channels_url(app["id"], slack["id"], "deliveries")).json
    assert failed["status"] == "failed" and failed["httpStatus"] == 404 and failed["error"]["code"] == "HTTP_404"


def test_an_unreachable_receiver_answers_the_error_and_deliveries_list_newest_first(api, app, target):
    channel = make_channel(api, app["id"], f"{target.base}/hook")
    one = channels_url(app["id"], channel["id"])
    api.post(one + "/test")
    target.close()  # nothing listens there now
    answer = api.post(one + "/test")
    assert answer.status == 200 and answer.json["status"] is None
    assert answer.json["error"]["code"] == "ECONNREFUSED" and "/hook" not in answer.json["error"]["message"]
    newest, oldest = api.get(one + "/deliveries").json
    assert (newest["status"], newest["error"]["code"], oldest["status"]) == ("failed", "ECONNREFUSED", "delivered")
    assert newest["at"] >= oldest["at"]
