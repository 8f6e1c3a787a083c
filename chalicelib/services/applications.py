"""Applications: create (admin), list and get within the caller's tenancy."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Caller
from chalicelib.contracts.models import ApplicationCreate
from chalicelib.errors import Conflict
from chalicelib.services import tenancy
from chalicelib.store import applications as app_store
from chalicelib.store.records import Application
from chalicelib.store.signing_keys import Created


def to_api(app: Application) -> dict[str, Any]:
    return {"id": app.id, "name": app.name, "displayName": app.display_name}


def create(caller: Caller, spec: ApplicationCreate) -> tuple[Application, Created]:
    """The application and its first signing key (its secret is shown once, in this answer)."""
    try:
        return app_store.create(spec.name, spec.displayName, caller.user)
    except app_store.NameTaken as exc:
        raise Conflict(
            f"an application named {spec.name} already exists", [{"field": "name", "message": "taken"}]
        ) from exc


def list_visible(caller: Caller, after_id: int, limit: int) -> tuple[list[Application], bool]:
    apps = [app for app in app_store.all_applications() if caller.may_manage(app.name) and app.id > after_id]
    return apps[:limit], len(apps) > limit


def get(caller: Caller, application_id: int) -> Application:
    return tenancy.visible_application(caller, application_id)


def store_reachable() -> bool:
    """Whether the store answers (the health check)."""
    return app_store.reachable()


def names_for(caller: Caller) -> list[str]:
    """The names of the applications the caller manages (all of them for an admin)."""
    if caller.is_admin:
        return sorted(app.name for app in app_store.all_applications())
    return sorted(caller.apps)
