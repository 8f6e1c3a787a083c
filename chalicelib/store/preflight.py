"""Before a tool writes: does the store it is pointed at exist? One line per problem, naming the table and the
endpoint, and saying what to do (a missing table is otherwise a PynamoDB traceback)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.settings import get_settings
from chalicelib.store.models import ALL_MODELS

FIX = (
    "start `make run` (its embedded AWS is http://127.0.0.1:4566), or set AWS_ENDPOINT_URL and the table names "
    "(or --stage)"
)


def problems() -> list[str]:
    """What is missing or unreachable, one line each; empty when every table answers."""
    endpoint = get_settings().aws_endpoint_url or f"AWS {get_settings().region}"
    found: list[str] = []
    for model in ALL_MODELS:
        name = model.Meta.table_name
        try:
            model.describe_table()
        except (PynamoDBException, ClientError, BotoCoreError) as exc:
            cause = getattr(exc, "cause", None) or exc
            missing = "ResourceNotFound" in repr(cause)
            reason = "does not exist" if missing else f"cannot be read ({type(cause).__name__})"
            found.append(f"table {name} {reason} at {endpoint}: {FIX}")
            if not missing:
                break  # the endpoint itself is the problem: one line says it
    return found
