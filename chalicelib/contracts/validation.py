"""Turn pydantic errors into the API's `details: [{field, message}]`, one per problem."""

from __future__ import annotations

from pydantic import ValidationError as PydanticError

# Discriminated unions add the tag to an error's location; clients know the field, not the tag.
_UNION_TAGS = frozenset({"bearer", "basic", "apiKey"})


def field_of(location: tuple[int | str, ...], prefix: str = "") -> str:
    parts = [str(part) for part in location if part not in _UNION_TAGS and part != "[key]"]
    name = ".".join(parts)
    if prefix:
        return f"{prefix}.{name}" if name else prefix
    return name or "body"


def message_of(error: dict) -> str:  # type: ignore[type-arg]
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"]).removeprefix("Value error, ")


def details_of(exc: PydanticError, prefix: str = "") -> list[dict[str, str]]:
    return [{"field": field_of(err["loc"], prefix), "message": message_of(err)} for err in exc.errors()]  # type: ignore[arg-type]
