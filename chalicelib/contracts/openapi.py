"""The OpenAPI 3.1 document, generated from the operation contracts (the committed copy: docs/openapi.json)."""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.contracts import (  # noqa: F401
    applications,
    backfills,
    channels,
    cron,
    executions,
    jobs,
    session,
    signing_keys,
    system,
    variables,
)
from chalicelib.contracts.base import REGISTRY, Operation
from chalicelib.contracts.checks import Answer, answers
from chalicelib.contracts.models import ErrorResponse

REF = "#/components/schemas/{model}"
SUCCESS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}
HEADER_DOCS = {
    "Idempotency-Key": "A replay with the same key returns the first response; another body gives 422.",
    "If-Match": "The ETag read from GET; a stale value gives 412.",
    "Location": "URL of the created resource.",
    "ETag": "Version of the job, for If-Match.",
    "X-Next-Cursor": "Cursor of the next page; absent on the last page.",
    "Link": 'The next page as `<url>; rel="next"`; absent on the last page.',
    "Set-Cookie": "The `session` cookie (HttpOnly, SameSite=Strict, Path=/_/scheduler).",
    "Idempotent-Replayed": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
    "Retry-After": "Seconds to wait before trying again.",
}
HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "Idempotent-Replayed": {"type": "string", "enum": ["true"]},
    "Retry-After": {"type": "integer", "minimum": 1},
}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    return _model_of(args[0]) if typing.get_origin(annotation) is list and args else None


def _schema_of(annotation: Any) -> dict[str, Any]:
    model = _model_of(annotation)
    if model is None:
        return {"type": "object"}
    ref = {"$ref": REF.format(model=model.__name__)}
    return {"type": "array", "items": ref} if typing.get_origin(annotation) is list else ref


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{pattern}$"}}
        if (pattern := operation.path_patterns.get(name)) else
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
        for name in operation.path_params
    ]  # fmt: skip
    if operation.query:
        schema = operation.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": False, "schema": prop})
    for header in operation.request_headers:
        params.append(
            {
                "name": header,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": HEADER_DOCS.get(header, ""),
            }
        )
    return params


def _headers(answer: Answer) -> dict[str, Any]:
    return {
        name: {"schema": HEADER_SCHEMAS.get(name, {"type": "string"}), "description": HEADER_DOCS.get(name, "")}
        for name in answer.headers
    }


def _responses(operation: Operation) -> dict[str, Any]:
    """Every status the operation can answer (contracts/checks.py derives them): the success with its model,
    each error with the one error shape, its codes and why."""
    responses: dict[str, Any] = {}
    for status, answer in answers(operation).items():
        if status == operation.status:
            response: dict[str, Any] = {"description": SUCCESS_TEXT.get(status, "OK")}
            if operation.output is not None and status != 204:
                response["content"] = {"application/json": {"schema": _schema_of(operation.output)}}
        else:
            response = {
                "description": f"{', '.join(answer.codes)}: {'; '.join(answer.why)}.",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
            }
        if answer.headers:
            response["headers"] = _headers(answer)
        responses[str(status)] = response
    return responses


def _operation(operation: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": operation.key,
        "summary": operation.description,
        "description": f"**Goal:** {operation.goal}\n\n**Context:** {operation.context}",
        "tags": list(operation.tags),
        "parameters": _parameters(operation),
        "responses": _responses(operation),
        "x-contract": {
            "key": operation.key,
            "version": operation.version,
            "kind": operation.kind,
            "stability": operation.stability,
            "owners": list(operation.owners),
            "policy": {"auth": operation.policy.auth},
            "scenarios": [
                {"key": s.key, "given": list(s.given), "when": list(s.when), "then": list(s.then)}
                for s in operation.scenarios
            ],
            "examples": [{"key": e.key, "status": e.status} for e in operation.examples],
        },
    }
    if operation.policy.auth == "public":
        doc["security"] = []
    if operation.input is not None:
        doc["requestBody"] = {
            "required": not operation.optional_body,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=operation.input.__name__)}}},
        }
    return doc


def _schemas() -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {"ErrorResponse": ErrorResponse}
    for operation in REGISTRY.values():
        for annotation in (operation.input, operation.output):
            model = _model_of(annotation)
            if model is not None:
                models[model.__name__] = model
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (model, "validation" if _is_input(name) else "serialization") for name, model in sorted(models.items())
    ]
    _, schema = models_json_schema(modes, ref_template=REF)
    return dict(sorted(schema.get("$defs", {}).items()))


def _is_input(name: str) -> bool:
    return any(op.input is not None and op.input.__name__ == name for op in REGISTRY.values())


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for operation in sorted(REGISTRY.values(), key=lambda op: (op.path, op.method)):
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scheduler API",
            "version": "1.0.0",
            "description": "HTTP jobs on cron schedules. Every operation is declared once as a contract.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(document(), indent=2))
