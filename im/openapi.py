"""The OpenAPI document of the REST API, derived from the operation declarations."""

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from .errors import codes_table
from .operations.registry import INT64_MAX, INT64_MIN, OPERATIONS

REF = "#/components/schemas/{model}"


class _Int64Schema(GenerateJsonSchema):
    """Integers without bounds of their own get the 64-bit range the server accepts."""

    def int_schema(self, schema):
        json_schema = super().int_schema(schema)
        json_schema.setdefault("minimum", INT64_MIN)
        json_schema.setdefault("maximum", INT64_MAX)
        return json_schema


def _envelope(data_schema: dict, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["errCode", "errMsg", "data"],
                    "properties": {"errCode": {"type": "integer"}, "errMsg": {"type": "string"}, "data": data_schema},
                }
            }
        },
    }


def _body_required(model) -> bool:
    """A body is required when the model has required fields, or is a union of shapes."""
    schema = model.model_json_schema()
    return bool(schema.get("required") or schema.get("anyOf") or schema.get("oneOf"))


def build_openapi() -> dict:
    """One POST path per operation; request bodies are the pydantic parameter models."""
    ops = sorted(OPERATIONS.values(), key=lambda o: o.name)
    models = {op.params for op in ops}
    refs, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template=REF, schema_generator=_Int64Schema
    )
    paths = {}
    for op in ops:
        security: list[dict[str, list[str]]] = []
        if op.admin:
            security = [{"adminSecret": []}]
        elif op.auth:
            security = [{"token": []}, {"bearer": []}]
        paths[f"/api/{op.name}"] = {
            "post": {
                "operationId": op.name,
                "summary": op.summary,
                "security": security,
                "requestBody": {
                    "required": _body_required(op.params),
                    "content": {"application/json": {"schema": refs[(op.params, "validation")]}},
                },
                "responses": {
                    "200": _envelope({}, "success: errCode 0"),
                    "400": _envelope({}, "invalid parameters (1001)"),
                    "401": _envelope({}, "token missing, malformed, unknown, expired, revoked or kicked"),
                    "403": _envelope({}, "no permission"),
                    "404": _envelope({}, "not found"),
                    "409": _envelope({}, "conflict with the current state"),
                    "410": _envelope({}, "gone"),
                    "413": _envelope({}, "payload too large"),
                    "429": _envelope({}, "rate limited"),
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IM server REST API",
            "version": "1",
            "description": "Every operation answers {errCode, errMsg, data}; see docs/protocol.md. "
            "Error codes: " + ", ".join(f"{c['code']} {c['name']}" for c in codes_table()),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "token"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "adminSecret": {"type": "apiKey", "in": "header", "name": "X-IM-Admin-Secret"},
            },
        },
    }
