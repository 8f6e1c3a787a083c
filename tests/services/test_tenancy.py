"""Tenancy (chalicelib/services/tenancy.py): which applications a caller sees and writes to. Another tenant's
application answers as a missing one does, so its existence never leaks; only an admin learns that an id is free."""

from __future__ import annotations

import pytest

from chalicelib.auth import Caller
from chalicelib.errors import Forbidden, NotFound, ValidationError
from chalicelib.services import tenancy
from chalicelib.store import applications as app_store

ADMIN = Caller("admin", is_admin=True, apps=frozenset())
MIA = Caller("mia", is_admin=False, apps=frozenset({"demo", "gone-app"}))
MISSING = 987_654


@pytest.fixture
def apps(aws):
    return {name: app_store.create(name, name.title(), "admin")[0].id for name in ("demo", "other")}


def test_an_admin_sees_every_application_and_a_member_only_the_named_ones_that_exist(apps):
    assert tenancy.visible_application_ids(ADMIN) == sorted(apps.values())
    assert tenancy.visible_application_ids(MIA) == [apps["demo"]]


def test_another_tenants_application_is_not_found_like_a_missing_one(apps):
    assert tenancy.visible_application(MIA, apps["demo"]).name == "demo"
    for application_id in (apps["other"], MISSING):
        with pytest.raises(NotFound) as hidden:
            tenancy.visible_application(MIA, application_id)
        assert hidden.value.message == f"application {application_id} not found"


def test_writing_to_another_tenants_or_a_missing_application_is_forbidden_alike(apps):
    assert tenancy.writable_application(MIA, apps["demo"]).name == "demo"
    with pytest.raises(Forbidden):
        tenancy.writable_application(MIA, apps["other"])
    with pytest.raises(Forbidden):
        tenancy.writable_application(MIA, MISSING)


def test_an_admin_writing_to_a_missing_application_is_told_the_field(apps):
    assert tenancy.writable_application(ADMIN, apps["other"]).name == "other"
    with pytest.raises(ValidationError) as refused:
        tenancy.writable_application(ADMIN, MISSING)
    assert [detail["field"] for detail in refused.value.details] == ["applicationId"]
