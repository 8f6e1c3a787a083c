"""Settings (chalicelib/settings.py): a value the service cannot run with stops it at start, naming the variable;
outside the dev stage no guessable JWT secret is accepted."""

from __future__ import annotations

import pytest

from chalicelib.settings import SettingsError, get_settings
from tests.conftest import token


@pytest.mark.parametrize(
    ("name", "value"),
    [("DUE_SHARDS", "0"), ("APP_INDEX_SHARDS", "500"), ("PORT", "http"), ("VALIDATE_RESPONSES", "yes"),
     ("GATEWAY_URL", "ftp://example.com")],
)  # fmt: skip
def test_a_value_the_service_cannot_run_with_is_refused_at_start_naming_its_variable(settings_env, name, value):
    settings_env.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: "):
        get_settings()


def test_an_empty_variable_means_the_default(settings_env):
    settings_env.setenv("DUE_SHARDS", " ")
    assert get_settings().due_shards == 4


def test_an_unknown_execution_event_kind_is_refused_at_start(settings_env):
    settings_env.setenv("EXECUTION_EVENTS", "started,finished")
    with pytest.raises(ValueError, match="finished"):
        get_settings()


@pytest.mark.parametrize("stage", ["prod", "staging"])
def test_a_short_jwt_secret_is_refused_at_start_outside_dev(settings_env, stage):
    settings_env.setenv("STAGE", stage)
    settings_env.setenv("JWT_SECRET", "short-secret")
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        get_settings()
    settings_env.setenv("JWT_SECRET", "x" * 32)
    assert get_settings().jwt_secret == "x" * 32


def test_outside_dev_the_documented_dev_secret_is_never_used(aws, settings_env):
    from chalicelib.auth import verify
    from chalicelib.errors import Unauthenticated

    dev_signed = token("admin", admin=True)  # signed with the test secret while STAGE is dev
    settings_env.setenv("STAGE", "staging")
    settings_env.setenv("JWT_SECRET", "")
    assert get_settings().jwt_secret is None
    with pytest.raises(Unauthenticated):
        verify(dev_signed)
