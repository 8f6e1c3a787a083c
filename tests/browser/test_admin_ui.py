"""The Admin UI in a real browser against `make run`: sign in, the cron preview, field errors, a run
watched to success, disable, an execution, XSS as text, a cross-site form post refused, an application's
variables (managed on their page, listed and checked where a job uses them), and its signing keys and a job's
signing and success criteria."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from chalicelib.invoker import params
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.slow


def sign_in(page: Any, stack: dict[str, Any]) -> None:
    page.goto(stack["sign_in"])
    page.wait_for_selector("#job-filters")
    assert page.locator("#who").inner_text() == "admin (admin)"


def demo_app(stack: dict[str, Any]) -> dict[str, Any]:
    return next(app for app in stack["client"].get("/applications").json() if app["name"] == "demo")


def make_job(stack: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    body = {"applicationId": demo_app(stack)["id"], "name": name, "pattern": "0 3 * * *",
            "taskConfig": {"url": f"{stack['target'].base}/ok"}, **fields}  # fmt: skip
    answer = stack["client"].post("/jobs", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_one_click_link_signs_in_with_a_strict_cookie_and_sign_out_clears_it(page, stack):
    started = time.monotonic()
    sign_in(page, stack)
    loaded = time.monotonic() - started
    assert "token=" not in page.url  # the token left the address bar
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/_/scheduler"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    timing = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON())")
    print(f"\nUI sign-in to jobs list: {loaded * 1000:.0f} ms; navigation timing: {timing[:200]}")
    page.click("#signout")
    page.wait_for_selector("#signin")
    assert [c for c in page.context.cookies() if c["name"] == "session"] == []
    page.goto(page.url.split("#")[0] + "#/jobs")
    page.wait_for_selector("#signin")
    assert page.errors == []


def test_a_pasted_token_signs_in_and_a_bad_one_is_refused(page, stack):
    page.goto(stack["sign_in"].split("#")[0])
    page.wait_for_selector("#signin")
    page.fill("#token", "not-a-token")
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signin .error")
    assert "UNAUTHENTICATED" in page.inner_text("#signin .error")
    page.fill("#token", stack["sign_in"].split("token=")[1])
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#job-filters")


def test_create_a_job_with_the_cron_preview_fix_errors_run_it_and_disable_it(page, stack):
    sign_in(page, stack)
    screenshot(page, "jobs")
    page.click("text=New job")
    page.wait_for_selector("#job-form")
    page.select_option("[name=applicationId]", label="Demo application")
    page.fill("[name=name]", "nightly-report")
    page.fill("[name=pattern]", "0 2 * * 1-5")
    page.fill("[name=timezone]", "Europe/Berlin")
    page.wait_for_selector("#cron-preview .described")
    assert page.inner_text("#cron-preview .described") == "At 02:00 AM, Monday through Friday"
    runs = page.locator("#cron-preview li").all_inner_texts()
    assert len(runs) == 5 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT02:00:00\+0[12]:00", run) for run in runs)

    page.fill("[name=pattern]", "61 * * * *")  # the preview names the bad field as the user types
    page.wait_for_selector("[data-field=pattern] .field-error:has-text('minute')")
    page.fill("[name=pattern]", "*/10 * * * *")
    page.wait_for_selector("#cron-preview:has-text('Every 10 minutes')")

    page.fill("[name='taskConfig.url']", "http://169.254.169.254/latest/meta-data")  # refused by the URL guard
    page.select_option("[name='taskConfig.auth.authMethod']", "bearer")
    page.fill("[name='taskConfig.auth.token']", "sekret-123")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("[data-field='taskConfig.url'].invalid")
    assert "169.254.169.254 is a loopback, private" in page.inner_text("[data-field='taskConfig.url'] .field-error")
    assert page.inner_text("#job-form .form-error").startswith("URL_NOT_ALLOWED")
    screenshot(page, "form")

    page.fill("[name='taskConfig.url']", f"{stack['target'].base}/ok")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#job-name:has-text('nightly-report')")
    assert page.locator(".title .badge").inner_text() == "scheduled"
    page.wait_for_selector("#described:has-text('Every 10 minutes')")  # described by the preview API, async
    assert "Demo application" in page.inner_text("dl.fields")

    page.click("#trigger")  # confirm() is accepted by the fixture
    page.wait_for_selector("#run-history tr.row-succeeded", timeout=20_000)
    assert ("confirm", 'Run "nightly-report" now?') in page.dialogs
    screenshot(page, "job")

    page.click("#disable")
    page.wait_for_selector(".title .badge:has-text('paused')")
    page.wait_for_selector("#enable")

    page.click("#run-history tr.row-succeeded a")
    page.wait_for_selector("#request")
    assert page.locator(".title .badge").inner_text() == "succeeded"
    assert page.inner_text("#request") == f"GET {stack['target'].base}/ok"
    body = page.inner_text("main")
    assert "********" in body and "sekret-123" not in body  # the secret reached the target, not the page
    screenshot(page, "execution")
    assert page.errors == []


def test_a_job_named_like_markup_is_shown_as_text(page, stack):
    name = "<img src=x onerror=alert(1)>"
    job = make_job(stack, name, description="<script>alert(2)</script>")
    sign_in(page, stack)
    page.wait_for_selector(f"#jobs a[href='#/jobs/{job['id']}']")
    assert page.inner_text(f"#jobs a[href='#/jobs/{job['id']}']") == name
    assert "Demo application" in page.inner_text(f"#jobs tr[data-job='{job['id']}']")
    page.click(f"#jobs a[href='#/jobs/{job['id']}']")
    page.wait_for_selector("#job-name")
    assert page.inner_text("#job-name") == name
    assert page.get_by_text("<script>alert(2)</script>").count() == 1
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    page.wait_for_timeout(300)
    assert [kind for kind, _ in page.dialogs if kind == "alert"] == [] and page.errors == []


def test_a_cross_site_form_post_with_the_session_cookie_is_refused(page, stack):
    sign_in(page, stack)
    before = {job["name"] for job in stack["client"].get("/jobs", params={"limit": 200}).json()}
    # another origin (the target's port) whose page posts a job with the browser's cookie
    url = f"http://127.0.0.1:{stack['port']}/_/scheduler/jobs"
    page.goto(f"{stack['target'].base}/attack?to={url}")
    page.wait_for_url(url)
    assert "FORBIDDEN" in page.content() and "cross-site request refused" in page.content()
    after = {job["name"] for job in stack["client"].get("/jobs", params={"limit": 200}).json()}
    assert after == before and "csrf" not in after


def test_the_jobs_list_filters_by_name_and_application(page, stack):
    make_job(stack, "filter-alpha")
    make_job(stack, "filter-beta")
    sign_in(page, stack)
    page.fill("#job-filters [name=name]", "filter-a")
    page.select_option("#job-filters [name=app]", label="Demo application")
    page.click("#job-filters button")
    page.wait_for_url(re.compile(r"name=filter-a"))
    expect(page.locator("#jobs tbody tr")).to_have_count(1)
    assert page.locator("#jobs tbody tr").inner_text().startswith("filter-alpha")


def test_applications_and_stats_pages(page, stack):
    make_job(stack, "every-5s", pattern="*/5 * * * * *")  # scheduled runs for the lag chart
    sign_in(page, stack)
    page.click("#nav a[data-nav=applications]")
    page.wait_for_selector("#applications")
    assert "demo" in page.inner_text("#applications")
    deadline = time.monotonic() + 40
    while True:
        page.click("#nav a[data-nav=stats]")
        page.wait_for_selector("#by-status")
        if page.locator("svg#lag-chart rect").count() >= 3 or time.monotonic() > deadline:
            break
        page.goto(page.url.split("#")[0] + "#/jobs")
        page.wait_for_timeout(2_000)
    assert page.locator("svg#lag-chart rect").count() >= 3
    assert page.locator("#by-status .badge").count() >= 1
    screenshot(page, "stats")
    assert page.errors == []


# --- variables ------------------------------------------------------------------------------------


def open_variables(page: Any, app_id: int) -> None:
    page.click("#nav a[data-nav=applications]")
    page.click(f"#applications a[href='#/applications/{app_id}/variables']")
    page.wait_for_selector("#variable-form")
    assert page.locator("#nav a.active").inner_text() == "Applications"


def save_variable(page: Any, name: str, value: str, secret: bool = False) -> None:
    page.fill("#variable-form [name=name]", name)
    page.fill("#variable-form [name=value]", value)
    page.set_checked("#variable-form [name=secret]", secret)
    page.click("#variable-form button[type=submit]")


def test_variables_are_added_masked_when_secret_and_not_deleted_while_jobs_use_them(page, stack):
    app = demo_app(stack)
    sign_in(page, stack)
    open_variables(page, app["id"])
    save_variable(page, "SHOP_HOST", "shop.example.com")
    page.wait_for_selector("#variables tr[data-variable=SHOP_HOST]")
    row = page.locator("#variables tr[data-variable=SHOP_HOST]").inner_text()
    assert "shop.example.com" in row and "by admin" in row

    save_variable(page, "SHOP_KEY", "sk-live-ui-3141", secret=True)
    page.wait_for_selector("#variables tr[data-variable=SHOP_KEY]")
    assert "********" in page.locator("#variables tr[data-variable=SHOP_KEY] td.value").inner_text()
    assert "sk-live-ui-3141" not in page.inner_text("main")
    page.click("#variables tr[data-variable=SHOP_KEY] button:has-text('Edit')")  # write-only: a new value is typed
    assert page.input_value("#variable-form [name=value]") == "" and "is secret" in page.inner_text("#value-note")
    page.click("#variable-form button[type=submit]")
    assert "never shown" in page.inner_text("[data-field=value] .field-error")

    save_variable(page, "JOB_NAME", "x")  # a built-in: the API's 400, shown as on the other forms
    page.wait_for_selector("[data-field=name].invalid")
    assert "built in" in page.inner_text("[data-field=name] .field-error")
    assert page.inner_text("#variable-form .form-error").startswith("VALIDATION_ERROR")

    url = "https://${SHOP_HOST}/orders"
    for name in ("shop-sync-a", "shop-sync-b"):
        make_job(stack, name, taskConfig={"url": url, "headers": {"X-Client": "${SHOP_KEY}"}})
    page.click("#variables tr[data-variable=SHOP_HOST] button.danger")  # confirm() is accepted by the fixture
    page.wait_for_selector("#notice .error")
    refused = page.inner_text("#notice .error")
    assert refused.startswith("CONFLICT") and "shop-sync-a, shop-sync-b" in refused
    assert ("confirm", "Delete variable SHOP_HOST?") in page.dialogs
    assert page.locator("#variables tr[data-variable=SHOP_HOST]").count() == 1
    screenshot(page, "variables")

    save_variable(page, "SHOP_UNUSED", "x")
    page.wait_for_selector("#variables tr[data-variable=SHOP_UNUSED]")
    page.click("#variables tr[data-variable=SHOP_UNUSED] button.danger")
    expect(page.locator("#variables tr[data-variable=SHOP_UNUSED]")).to_have_count(0)
    assert page.errors == []


def test_a_job_lists_its_variables_and_the_form_warns_about_one_the_application_lacks(page, stack):
    app = demo_app(stack)
    for name, value, secret in (("CRM_HOST", "crm.example.com", False), ("CRM_KEY", "crm-secret-2718", True)):
        answer = stack["client"].put(
            f"/applications/{app['id']}/variables/{name}", json={"value": value, "secret": secret}
        )
        assert answer.status_code == 200, answer.text
    task = {"url": "https://${CRM_HOST}/sync?day=${T-1:YYYY-MM-DD}", "body": {"key": "${CRM_KEY}", "by": "${JOB_NAME}"}}
    job = make_job(stack, "crm-sync", taskConfig={**task, "method": "POST"})
    sign_in(page, stack)
    page.goto(page.url.split("#")[0] + f"#/jobs/{job['id']}")
    page.wait_for_selector("#job-variables li[data-variable=CRM_HOST]:has-text('crm.example.com')")
    listed = page.locator("#job-variables li").all_inner_texts()
    assert listed == ["CRM_HOST = crm.example.com", "CRM_KEY secret", "JOB_NAME built in"]  # not ${T-1:…}
    assert "crm-secret-2718" not in page.inner_text("main")
    page.click("#job-variables a:has-text('CRM_HOST')")
    page.wait_for_selector("#variables tr.picked[data-variable=CRM_HOST]")
    assert page.input_value("#variable-form [name=name]") == "CRM_HOST"

    page.goto(page.url.split("#")[0] + f"#/jobs/{job['id']}/edit")
    page.wait_for_selector("#variable-refs li[data-variable=CRM_KEY]")
    assert page.locator("#missing-variables").count() == 0
    page.fill("[name='taskConfig.url']", "https://${CRM_HOST}/sync?region=${CRM_REGION}")
    page.wait_for_selector("#missing-variables")  # before the form is sent
    assert "has no variable CRM_REGION" in page.inner_text("#missing-variables")
    link = page.locator("#variable-refs li[data-variable=CRM_REGION] a")
    assert link.get_attribute("href") == f"#/applications/{app['id']}/variables?name=CRM_REGION"
    page.click("#job-form button[type=submit]")  # the API agrees
    page.wait_for_selector("[data-field='taskConfig.url'].invalid")
    assert "CRM_REGION" in page.inner_text("[data-field='taskConfig.url'] .field-error")

    stack["client"].put(f"/applications/{app['id']}/variables/CRM_REGION", json={"value": "eu"})
    page.evaluate("window.dispatchEvent(new Event('focus'))")  # back from adding it in another tab
    expect(page.locator("#missing-variables")).to_have_count(0)
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#job-variables li[data-variable=CRM_REGION]")
    assert page.errors == []


def test_the_ui_finds_the_variables_the_api_finds(page, stack):
    sign_in(page, stack)
    configs = [
        {"url": "https://${HOST}/a/${T:YYYY}/${T-1:MM}", "headers": {"X-${KEY_IN_NAME}": "${A_1}"}},
        {"body": {"list": ["${B}", {"deep": "${C_D} ${lower} ${9X} ${}"}], "n": 5, "ok": True}},
        {"auth": {"authMethod": "basic", "username": "${USER}${USER}", "password": "$${PASS} ${{X}}"}},
        {"path": "/${" + "A" * 64 + "}/${" + "B" * 65 + "}", "endpoint": "https://${JOB_NAME}"},
    ]
    for config in configs:
        found = page.evaluate("async (c) => (await import('./ui/assets/variables.js')).references(c)", config)
        assert found == sorted(params.references(config)), config


# --- signed requests ------------------------------------------------------------------------------


def test_signing_keys_are_created_shown_once_and_retired_but_not_the_last_that_does_not_expire(page, stack):
    created = stack["client"].post("/applications", json={"name": "signed", "displayName": "Signed application"})
    assert created.status_code == 201, created.text
    app, first = created.json(), created.json()["signingKey"]["id"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, stack)
    page.click("#nav a[data-nav=applications]")
    page.click(f"#applications a[href='#/applications/{app['id']}/signing-keys']")
    page.wait_for_selector("#key-form")
    assert page.locator("#nav a.active").inner_text() == "Applications"
    public_url = f"{str(stack['client'].base_url).rstrip('/')}/applications/{app['id']}/signing-keys/public"
    assert page.inner_text("#public-url") == public_url
    assert "hmac" in page.inner_text(f"#keys tr[data-key={first}]") and "never" in page.inner_text("#keys")

    page.click(f"#keys tr[data-key={first}] button.danger")  # the only key: the API's 409 says why
    page.wait_for_selector("#notice .error")
    refused = page.inner_text("#notice .error")
    assert refused.startswith("CONFLICT") and "at least one active signing key that does not expire" in refused
    assert ("confirm", f"Retire signing key {first}? Requests stop carrying its signature at once.") in page.dialogs

    page.select_option("#key-form [name=type]", "ed25519")
    page.fill("#key-form [name=expiresAt]", "2099-06-30T12:00")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#keys tr.picked")
    ed25519 = next(key for key in stack["client"].get(f"/applications/{app['id']}/signing-keys").json()
                   if key["type"] == "ed25519")  # fmt: skip
    row = page.locator(f"#keys tr.picked[data-key={ed25519['id']}]").inner_text()
    assert ed25519["publicKey"].startswith("whpk_") and ed25519["publicKey"] in row and "Jun 30, 2099" in row
    assert ed25519["expiresAt"] == "2099-06-30T10:00:00.000Z"  # typed in the viewer's zone (Berlin, summer)
    assert page.locator("#new-secret").count() == 0  # nothing secret about an ed25519 key
    assert httpx.get(public_url).json() == [{"id": ed25519["id"], "publicKey": ed25519["publicKey"]}]

    page.fill("#key-form [name=expiresAt]", "2001-01-01T00:00")  # the API's 400, next to its field
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("[data-field=expiresAt].invalid")
    assert "must be in the future" in page.inner_text("[data-field=expiresAt] .field-error")
    assert page.inner_text("#key-form .form-error").startswith("VALIDATION_ERROR")

    page.select_option("#key-form [name=type]", "hmac")
    page.fill("#key-form [name=expiresAt]", "")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#new-secret")
    secret = page.inner_text("#secret")
    assert secret.startswith("whsec_") and "will not be shown again" in page.inner_text("#new-secret")
    assert secret not in page.inner_text("#keys")
    page.click("#new-secret button.copy")
    page.wait_for_selector("#new-secret button.copy:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "signing-keys")
    page.reload()  # shown once: the API never gives it again, and the page kept it only in memory
    page.wait_for_selector("#keys")
    assert page.locator("#new-secret").count() == 0 and secret not in page.content()
    assert page.locator("#keys tbody tr").count() == 3

    for key_id in (first, ed25519["id"]):  # another key that does not expire remains: now it can go
        page.click(f"#keys tr[data-key={key_id}] button.danger")
        expect(page.locator(f"#keys tr[data-key={key_id}]")).to_have_count(0)
    (left,) = stack["client"].get(f"/applications/{app['id']}/signing-keys").json()
    assert left["type"] == "hmac" and page.locator(f"#keys tr[data-key={left['id']}]").count() == 1
    assert httpx.get(public_url).json() == [] and page.errors == []


def test_a_job_that_signs_nothing_and_expects_a_json_value_is_made_in_the_form_and_its_run_checked(page, stack):
    sign_in(page, stack)
    page.click("text=New job")
    page.wait_for_selector("#job-form")
    assert page.is_checked("[name='taskConfig.sign']")  # signed unless turned off
    page.select_option("[name=applicationId]", label="Demo application")
    page.fill("[name=name]", "unsigned-check")
    page.fill("[name=pattern]", "0 4 * * *")
    page.fill("[name='taskConfig.url']", f"{stack['target'].base}/unsigned-check")
    page.set_checked("[name='taskConfig.sign']", False)
    page.fill("[name='taskConfig.expect.status']", "2XX, 7xx")
    page.fill("[name='taskConfig.expect.bodyContains']", '"path"')
    page.fill("[name='taskConfig.expect.json.pointer']", "/method")
    page.fill("[name='taskConfig.expect.json.equals']", "POST")  # not JSON: taken as the string
    page.fill("[name='retryPolicy.maxAttempts']", "1")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("[data-field='taskConfig.expect.status'].invalid")  # 7xx: the API's 400, placed
    assert page.inner_text("#job-form .form-error").startswith("VALIDATION_ERROR")
    page.fill("[name='taskConfig.expect.status']", "2xx, 304")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#job-name:has-text('unsigned-check')")
    assert page.inner_text("#signed") == "no"
    assert page.inner_text("#success") == (
        'HTTP 2xx or 304, and the body contains “"path"”, and the JSON at /method equals "POST"'
    )
    job_id = int(page.url.rsplit("/", 1)[1])
    config = stack["client"].get(f"/jobs/{job_id}").json()["taskConfig"]
    wanted = {"status": ["2xx", 304], "bodyContains": '"path"', "json": {"pointer": "/method", "equals": "POST"}}
    assert config["sign"] is False and config["expect"] == wanted

    page.click("#trigger")  # the target echoes {"method": "GET", ...}: the JSON value misses
    page.wait_for_selector("#run-history tr.row-failed", timeout=20_000)
    assert page.inner_text("#run-history tr.row-failed td:last-child") == "UNEXPECTED_RESPONSE"
    (sent,) = [r for r in stack["target"].requests if r["path"] == "/unsigned-check"]
    assert not {name.lower() for name in sent["headers"]} & {"webhook-id", "webhook-timestamp", "webhook-signature"}

    page.click(".actions a:has-text('Edit')")  # the form reads the criteria back, and saves them unchanged
    page.wait_for_selector("#job-form")
    assert not page.is_checked("[name='taskConfig.sign']")
    assert page.input_value("[name='taskConfig.expect.status']") == "2xx, 304"
    assert page.input_value("[name='taskConfig.expect.json.equals']") == '"POST"'
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#job-name")
    config = stack["client"].get(f"/jobs/{job_id}").json()["taskConfig"]
    assert config["sign"] is False and config["expect"] == wanted and page.errors == []


# --- failure alerts -------------------------------------------------------------------------------------------


def test_the_jobs_page_shows_health_as_a_badge_filters_on_it_and_the_form_sets_the_alerts_rule(page, stack):
    client = stack["client"]
    job = make_job(stack, "always-failing", taskConfig={"url": f"{stack['target'].base}/status/500"},
                   retryPolicy={"maxAttempts": 1})  # fmt: skip
    execution = client.post(f"/jobs/{job['id']}/trigger").json()
    deadline = time.monotonic() + 15
    while client.get(f"/executions/{execution['id']}").json()["status"] != "failed":
        assert time.monotonic() < deadline, "the run did not fail in time"
        time.sleep(0.2)
    sign_in(page, stack)
    page.goto(page.url.split("#")[0] + "#/jobs?name=always-failing")
    expect(page.locator("#job-filters [name=name]")).to_have_value("always-failing")  # the filtered page is shown
    row = f"#jobs tr[data-job='{job['id']}']"
    page.wait_for_selector(row)
    assert page.inner_text(f"{row} td.health") == "failing"
    page.select_option("#job-filters [name=health]", "failing")
    page.click("#job-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"health=failing"))
    expect(page.locator("#jobs td.health:not(:has-text('failing'))")).to_have_count(0)
    expect(page.locator(row)).to_have_count(1)
    page.select_option("#job-filters [name=health]", "ok")
    page.click("#job-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"health=ok"))
    expect(page.locator(row)).to_have_count(0)

    page.goto(page.url.split("#")[0] + f"#/jobs/{job['id']}/edit")
    page.wait_for_selector("#job-form")
    page.fill("[name='alerts.afterFailures']", "3")
    page.fill("[name='alerts.lateAfterSeconds']", "120")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#alerts")
    assert (
        page.inner_text("#alerts")
        == "after 3 failed run(s) in a row; late when a run has not started 120 s after its time"
    )
    assert page.inner_text("#health").startswith("ok") and "1 failed in a row" in page.inner_text("#health")
    assert client.get(f"/jobs/{job['id']}").json()["alerts"] == {"afterFailures": 3, "lateAfterSeconds": 120}
    screenshot(page, "job-health")
    assert page.errors == []


def test_alert_channels_are_created_with_the_url_shown_once_tested_and_their_deliveries_listed(page, stack):
    target = stack["target"]
    sign_in(page, stack)
    app = demo_app(stack)
    page.click("#nav a[data-nav=applications]")
    page.click(f"#applications a[href='#/applications/{app['id']}/channels']")
    page.wait_for_selector("#channel-form")
    page.fill("#channel-form [name=name]", "ops-hook")
    page.fill("#channel-form [name=url]", "http://169.254.169.254/latest")  # the API's refusal, on its field
    page.click("#channel-form button[type=submit]")
    page.wait_for_selector("[data-field=url].invalid")
    assert page.inner_text("#channel-form .form-error").startswith("URL_NOT_ALLOWED")
    url = f"{target.base}/ui-hook/secret-part"
    page.fill("#channel-form [name=url]", url)
    page.uncheck("#channel-form [name=events][value=late]")
    page.click("#channel-form button[type=submit]")
    page.wait_for_selector("#new-url")
    assert page.inner_text("#channel-url") == url and "will not be shown again" in page.inner_text("#new-url")
    row = page.locator("#channels tr.picked")
    assert "secret-part" not in row.inner_text() and f"{target.base}/********" in row.inner_text()
    assert "failing, recovered" in row.inner_text()
    row.locator("button.test").click()
    page.wait_for_selector("#test-result")
    assert page.inner_text("#test-result") == "HTTP 200"
    page.wait_for_selector("#delivery-list")
    assert "delivered" in page.inner_text("#delivery-list") and "test" in page.inner_text("#delivery-list")
    assert [r["path"] for r in target.requests if r["path"].startswith("/ui-hook")] == ["/ui-hook/secret-part"]
    screenshot(page, "channels")
    page.reload()  # shown once: the page kept the URL only in memory
    page.wait_for_selector("#channels")
    assert page.locator("#new-url").count() == 0 and "secret-part" not in page.content()
    page.locator("#channels tr", has_text="ops-hook").locator("button.danger").click()
    expect(page.locator("#channels tr", has_text="ops-hook")).to_have_count(0)
    assert page.errors == []


# --- scheduling controls: jitter and active window, pause until, backfill ---------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")  # the browser's zone (conftest): datetime-local fields are typed in it


def local(at: datetime) -> str:
    return at.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


def test_the_form_sets_jitter_and_an_active_window_and_refuses_an_end_before_the_start(page, stack):
    sign_in(page, stack)
    page.click("text=New job")
    page.wait_for_selector("#job-form")
    page.select_option("[name=applicationId]", label="Demo application")
    page.fill("[name=name]", "windowed")
    page.fill("[name=pattern]", "0 3 * * *")
    page.fill("[name='taskConfig.url']", f"{stack['target'].base}/ok")
    page.fill("[name=jitterSeconds]", "90")
    page.fill("[name=startAt]", "2030-01-01T00:00")
    page.fill("[name=endAt]", "2029-12-01T00:00")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("[data-field=endAt].invalid")
    assert page.inner_text("[data-field=endAt] .field-error") != ""

    page.fill("[name=endAt]", "2030-02-01T00:00")
    page.wait_for_selector("#cron-preview li")  # the preview honours the window
    expect(page.locator("#cron-preview li").first).to_have_text("2030-01-01T03:00:00+00:00")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#job-name:has-text('windowed')")
    assert page.inner_text("#jitter") == "up to 90 s after each slot"
    assert page.inner_text("#window") == "from Jan 1, 2030, 12:00:00 AM until Feb 1, 2030, 12:00:00 AM"
    job_id = int(page.url.rsplit("/", 1)[1])
    job = stack["client"].get(f"/jobs/{job_id}").json()
    assert (job["jitterSeconds"], job["startAt"], job["endAt"]) == (
        90, "2029-12-31T23:00:00.000Z", "2030-01-31T23:00:00.000Z")  # fmt: skip

    page.click("text=Edit")  # cleared fields are sent as null; an untouched one keeps its value
    page.wait_for_selector("#job-form")
    expect(page.locator("[name=startAt]")).to_have_value("2030-01-01T00:00")
    page.fill("[name=endAt]", "")
    page.fill("[name=jitterSeconds]", "")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#window:has-text('from')")
    assert page.inner_text("#window") == "from Jan 1, 2030, 12:00:00 AM" and page.inner_text("#jitter") == "none"
    job = stack["client"].get(f"/jobs/{job_id}").json()
    assert (job.get("jitterSeconds"), job["startAt"], job.get("endAt")) == (None, "2029-12-31T23:00:00.000Z", None)
    assert page.errors == []


def test_pause_until_a_time_with_a_reason_from_the_job_page_and_enable_clears_it(page, stack):
    job = make_job(stack, "pausable")
    sign_in(page, stack)
    page.goto(page.url.split("#")[0] + f"#/jobs/{job['id']}")
    page.click("#pause")
    page.fill("#pause-form [name=until]", local(datetime.now(UTC) - timedelta(hours=1)))
    page.click("#pause-form button[type=submit]")
    page.wait_for_selector("#pause-form [data-field=until].invalid")
    assert page.inner_text("#pause-form [data-field=until] .field-error") == "must be in the future"

    until = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    page.fill("#pause-form [name=until]", local(until))
    page.fill("#pause-form [name=reason]", "vendor maintenance")
    page.click("#pause-form button[type=submit]")
    page.wait_for_selector("#paused")
    shown = until.astimezone(BERLIN).strftime("%b %-d, %Y, %-I:%M:%S %p")
    assert page.inner_text("#paused") == f"Paused until {shown} — vendor maintenance"
    assert page.locator(".title .badge").inner_text() == "paused"
    answer = stack["client"].get(f"/jobs/{job['id']}").json()
    assert answer["pausedUntil"] == until.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert answer["pausedReason"] == "vendor maintenance"

    page.click("#enable")
    page.wait_for_selector("#disable")
    expect(page.locator("#paused")).to_have_count(0)
    assert "pausedUntil" not in stack["client"].get(f"/jobs/{job['id']}").json()
    assert page.errors == []


def test_a_backfill_from_the_job_page_runs_past_slots_and_shows_its_progress(page, stack):
    job = make_job(stack, "daily-backfilled")  # 0 3 * * * UTC
    sign_in(page, stack)
    page.goto(page.url.split("#")[0] + f"#/jobs/{job['id']}")
    today = datetime.now(BERLIN).replace(hour=0, minute=0, second=0, microsecond=0)
    page.fill("#backfill-form [name=from]", local(today - timedelta(days=3)))
    page.fill("#backfill-form [name=to]", local(today + timedelta(days=2)))  # the future: refused by its field
    page.click("#backfill-form button[type=submit]")
    page.wait_for_selector("#backfill-form [data-field=to].invalid")

    page.fill("#backfill-form [name=to]", local(today))
    page.fill("#backfill-form [name=perMinute]", "600")
    page.click("#backfill-form button[type=submit]")
    page.wait_for_selector("#backfill [data-count=total]")
    assert page.inner_text("#backfill [data-count=total]") == "3"
    assert re.search(r"\?backfill=\d+$", page.url)  # a reload shows it again
    expect(page.locator("#backfill [data-count=succeeded]")).to_have_text("3", timeout=90_000)
    expect(page.locator("#backfill-status")).to_have_text("done")
    expect(page.locator("#run-history tr.row-succeeded")).to_have_count(3)
    assert page.locator("#run-history td", has_text="backfill").count() == 3
    page.reload()
    page.wait_for_selector("#backfill [data-count=succeeded]:has-text('3')")
    assert page.errors == []
