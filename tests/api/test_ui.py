"""The Admin UI's server side: static files with a strict CSP, the session cookie, same-origin writes, and
the cron preview its form uses. (The pages themselves are driven in a real browser in tests/browser.)"""

from __future__ import annotations

import re

import pytest

from chalicelib.api.ui import ASSETS, CSP
from tests.conftest import token

UI = "/_/scheduler/ui"
SESSION = "/_/scheduler/session"
JOBS = "/_/scheduler/jobs"
PREVIEW = "/_/scheduler/cron/preview"
HOST = "scheduler.example.com"


@pytest.fixture
def browser(api):
    """A client that authenticates with the session cookie only, like the UI in a browser."""
    anonymous = api.as_user(None)
    answer = anonymous.post(SESSION, {"token": token("admin", admin=True)}, headers={"Host": HOST})
    assert answer.status == 200, answer.body
    cookie = answer.headers["set-cookie"].split(";")[0]
    return anonymous, {"Cookie": cookie, "Host": HOST}


# --- static files ---------------------------------------------------------------------------------


def test_the_ui_is_served_with_a_strict_content_security_policy(api):
    page = api.as_user(None).get(UI)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = api.as_user(None).get(f"{UI}/assets/{name}")
        assert asset.status == 200 and asset.headers["content-type"].startswith(kind)
        assert asset.headers["content-security-policy"] == CSP
        again = api.as_user(None).get(f"{UI}/assets/{name}", headers={"If-None-Match": asset.headers["etag"]})
        assert again.status == 304


def test_unknown_assets_and_paths_answer_404(api):
    for name in ("nope.js", "..%2Fapi%2Fui.py", "index.html.bak"):
        answer = api.as_user(None).get(f"{UI}/assets/{name}")
        assert answer.status == 404 and answer.json["error"]["code"] == "NOT_FOUND"


def test_no_inline_script_or_style_and_no_html_injection_sinks_in_the_sources():
    html = (ASSETS / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [] and " style=" not in html and "<style" not in html
    for path in ASSETS.glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.name} uses {sink}"
        assert 'setAttribute("style"' not in source and ".style." not in source


def test_the_ui_is_small_and_needs_no_build_step():
    files = sorted(path.name for path in ASSETS.iterdir())
    assert files == ["api.js", "app.js", "channels.js", "controls.js", "dom.js", "index.html", "jobs.js", "keys.js",
                     "runs.js", "style.css", "variables.js"]  # fmt: skip
    assert sum(path.stat().st_size for path in ASSETS.iterdir()) < 82_000  # 74 KB before the scheduling controls
    external = re.compile(r"""(src|href)=["']?(https?:)?//|from\s+["']https?:|import\(["']https?:|url\(["']?https?:""")
    assert [
        p.name for p in ASSETS.iterdir() if external.search(p.read_text())
    ] == []  # no CDN, nothing fetched elsewhere


def test_the_ui_reads_variable_references_with_the_apis_patterns():
    """The job form and detail list a job's `${NAME}`s as the API checks them (the browser tests run them)."""
    from chalicelib.invoker import params

    source = (ASSETS / "variables.js").read_text()
    assert f"/{params.PLACEHOLDER.pattern}/g" in source and f"/^{params.VARIABLE.pattern}$/" in source
    assert f"BUILT_INS = {list(params.BUILT_INS)}".replace("'", '"') in source


# --- session --------------------------------------------------------------------------------------


def test_signing_in_sets_a_strict_http_only_cookie_that_expires_with_the_token(api):
    answer = api.as_user(None).post(SESSION, {"token": token("admin", admin=True)})
    assert answer.status == 200 and answer.json["user"] == "admin" and answer.json["admin"] is True
    attributes = [part.strip() for part in answer.headers["set-cookie"].split(";")]
    assert attributes[0].startswith("session=ey")
    assert {"HttpOnly", "SameSite=Strict", "Path=/_/scheduler", "Secure"} <= set(attributes)
    max_age = int(next(a for a in attributes if a.startswith("Max-Age=")).split("=")[1])
    assert 86_300 < max_age <= 86_400  # the test token lives a day


def test_local_development_drops_the_secure_flag(api, settings_env):
    settings_env.setenv("LOCAL_DEV", "1")
    answer = api.as_user(None).post(SESSION, {"token": token("admin", admin=True)})
    assert "Secure" not in answer.headers["set-cookie"]


def test_a_bad_token_does_not_sign_in(api):
    answer = api.as_user(None).post(SESSION, {"token": "x.y.z"})
    assert answer.status == 401 and "set-cookie" not in answer.headers


def test_the_cookie_authenticates_reads_and_sign_out_clears_it(api, browser):
    client, cookie = browser
    me = client.get(SESSION, headers=cookie)
    assert me.status == 200 and me.json["user"] == "admin"
    assert client.get(JOBS, headers=cookie).status == 200
    gone = client.delete(SESSION, headers={**cookie, "X-Requested-With": "scheduler-ui"})
    assert gone.status == 204 and "Max-Age=0" in gone.headers["set-cookie"]
    assert client.get(SESSION).status == 401


def test_a_member_session_lists_only_its_applications(api):
    api.make_app("demo")
    api.make_app("other")
    answer = api.as_user(None).post(SESSION, {"token": token("member", apps=["demo"])})
    assert answer.json["apps"] == ["demo"] and answer.json["admin"] is False


# --- same-origin writes ---------------------------------------------------------------------------


def job_body(app_id: int, name: str) -> dict:
    return {"applicationId": app_id, "name": name, "pattern": "0 2 * * *",
            "taskConfig": {"url": "https://api.example.com/sync"}}  # fmt: skip


def test_a_cross_site_form_post_with_the_cookie_is_refused(api, browser):
    client, cookie = browser
    app_id = api.make_app()["id"]
    form = "applicationId=1&name=evil&pattern=*+*+*+*+*"
    headers = {**cookie, "Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    answer = client.request("POST", JOBS, raw=form.encode(), headers=headers)
    assert answer.status == 403 and answer.json["error"]["code"] == "FORBIDDEN"
    json_post = client.post(JOBS, job_body(app_id, "evil"), headers={**cookie, "Origin": "https://evil.example"})
    assert json_post.status == 403
    assert client.post(f"{JOBS}/1/trigger", headers={**cookie, "Origin": "null"}).status == 403
    assert api.get(JOBS).json == []  # nothing was written


def test_a_cookie_write_without_origin_needs_the_ui_header(api, browser):
    client, cookie = browser
    app_id = api.make_app()["id"]
    assert client.post(JOBS, job_body(app_id, "bare"), headers=cookie).status == 403
    ui = client.post(JOBS, job_body(app_id, "from-ui"), headers={**cookie, "X-Requested-With": "scheduler-ui"})
    assert ui.status == 201


def test_a_cookie_write_is_accepted_from_gateway_urls_origin_only(api, browser):
    """The request's own Host is the client's to choose: an Origin matching it proves nothing."""
    client, cookie = browser
    app_id = api.make_app()["id"]
    gateway = {**cookie, "Origin": "http://127.0.0.1:8000"}  # GATEWAY_URL's origin
    assert client.post(JOBS, job_body(app_id, "same-origin"), headers=gateway).status == 201
    for origin, host in ((f"https://{HOST}", HOST), ("http://evil.example", "evil.example")):
        forged = {**cookie, "Origin": origin, "Host": host}
        assert client.post(JOBS, job_body(app_id, f"forged-{host}"), headers=forged).status == 403
    assert [job["name"] for job in api.get(JOBS).json] == ["same-origin"]


def test_bearer_clients_are_unaffected_by_origin(api):
    app_id = api.make_app()["id"]
    answer = api.post(JOBS, job_body(app_id, "cli"), headers={"Origin": "https://elsewhere.example"})
    assert answer.status == 201


# --- cron preview ---------------------------------------------------------------------------------


def test_cron_preview_describes_and_lists_next_runs_in_the_zone(api):
    answer = api.post(PREVIEW, {"pattern": "30 2 * * *", "timezone": "Europe/Berlin", "count": 20})
    assert answer.status == 200 and answer.json["description"] == "At 02:30 AM"
    runs = answer.json["next"]
    assert len(runs) == 20 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT02:30:00\+0[12]:00", run) for run in runs)


def test_cron_preview_times_follow_the_engine_through_dst():
    """The preview lists the engine's slots (next_after) as local_iso shows them: a skipped 02:30 reads 03:00."""
    from chalicelib import cron
    from chalicelib.clock import local_iso

    start = 1_774_746_000_000 - 86_400_000  # 2026-03-28 01:00 UTC, the day before Berlin springs forward
    at, seen = start, []
    for _ in range(2):
        at = cron.next_after("30 2 * * *", "Europe/Berlin", at)
        seen.append(local_iso(at, cron.zone("Europe/Berlin")))
    assert seen == ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00"]  # 02:30 does not exist that night


def test_cron_preview_seconds_and_bad_input(api):
    seconds = api.post(PREVIEW, {"pattern": "*/15 * * * * *", "count": 4})
    assert seconds.json["description"] == "Every 15 seconds" and len(seconds.json["next"]) == 4
    for body, field in (
        ({"pattern": "61 * * * *"}, "pattern"),
        ({"pattern": "@daily"}, "pattern"),
        ({"pattern": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"pattern": "* * * * *", "count": 0}, "count"),
        ({"pattern": "* * * * *", "count": 21}, "count"),
        ({}, "pattern"),
    ):
        answer = api.post(PREVIEW, body)
        assert answer.status == 400 and answer.json["error"]["details"][0]["field"] == field, body
    assert api.as_user(None).post(PREVIEW, {"pattern": "* * * * *"}).status == 401
