"""Applications: admin-only create, unique slugs, visibility."""

APPS = "/_/scheduler/applications"


def test_create_answers_201_with_location(api):
    answer = api.post(APPS, {"name": "billing", "displayName": "Billing"})
    assert answer.status == 201
    created = answer.json
    key = created.pop("signingKey")  # the first signing key, its secret shown this once
    assert created == {"id": created["id"], "name": "billing", "displayName": "Billing"}
    assert key["type"] == "hmac" and key["id"].startswith("key_") and key["secret"].startswith("whsec_")
    assert answer.headers["location"].endswith(f"{APPS}/{created['id']}")
    assert api.get(f"{APPS}/{created['id']}").json == created


def test_second_create_of_a_name_conflicts(api):
    api.make_app("billing")
    answer = api.post(APPS, {"name": "billing", "displayName": "Again"})
    assert answer.status == 409 and answer.json["error"]["code"] == "CONFLICT"


def test_names_are_slugs(api):
    for name in ("B", "a", "Billing", "-x", "a_b", "a" * 64, "ab c"):
        answer = api.post(APPS, {"name": name, "displayName": "x"})
        assert answer.status == 400 and answer.error_fields() == ["name"], name


def test_only_admins_create(member):
    assert member.post(APPS, {"name": "mine", "displayName": "Mine"}).status == 403


def test_list_shows_only_visible_applications(api, member):
    for name in ("demo", "other", "third"):
        api.make_app(name)
    assert [app["name"] for app in api.get(APPS).json] == ["demo", "other", "third"]
    assert [app["name"] for app in member.get(APPS).json] == ["demo"]
    other_id = api.get(APPS).json[1]["id"]
    assert member.get(f"{APPS}/{other_id}").status == 404


def test_list_paginates(api):
    for index in range(5):
        api.make_app(f"app-{index}")
    first = api.get(f"{APPS}?limit=2")
    assert [app["name"] for app in first.json] == ["app-0", "app-1"]
    cursor = first.headers["x-next-cursor"]
    assert first.headers["link"].endswith(f'cursor={cursor}>; rel="next"')
    second = api.get(f"{APPS}?limit=2&cursor={cursor}")
    third = api.get(f"{APPS}?limit=2&cursor={second.headers['x-next-cursor']}")
    assert [app["name"] for app in third.json] == ["app-4"] and "x-next-cursor" not in third.headers
