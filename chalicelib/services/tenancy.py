"""Which applications a caller may see and manage. Others' data answers 404 and is never listed."""

from __future__ import annotations

from chalicelib.auth import Caller
from chalicelib.errors import Forbidden, NotFound, ValidationError
from chalicelib.store import applications as app_store
from chalicelib.store.records import Application


def visible_application_ids(caller: Caller) -> list[int]:
    if caller.is_admin:
        return [app.id for app in app_store.all_applications()]
    return app_store.ids_for_names(caller.apps)


def visible_application(caller: Caller, application_id: int) -> Application:
    app = app_store.get(application_id)
    if app is None or not caller.may_manage(app.name):
        raise NotFound(f"application {application_id} not found")
    return app


def writable_application(caller: Caller, application_id: int) -> Application:
    """The application a job is written to: 403 when the caller may not manage it."""
    app = app_store.get(application_id)
    if app is None:
        if not caller.is_admin:
            raise Forbidden(f"you may not manage application {application_id}")
        raise ValidationError.for_field("applicationId", f"application {application_id} does not exist")
    if not caller.may_manage(app.name):
        raise Forbidden(f"you may not manage application {application_id}")  # its name is not the caller's to see
    return app
