"""OpenAPI post-processing: document the one error shape on every operation."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable machine-readable code, e.g. stale_version.",
                },
                "message": {"type": "string", "description": "What went wrong, in words a user can act on."},
                "details": {
                    "nullable": True,
                    "description": "Structured facts (field errors, current version).",
                },
            },
        }
    },
}
ERROR_RESPONSES = {
    "400": "Invalid input (details names the fields or values).",
    "401": "Not signed in: send `Authorization: Token <token>` or a session cookie.",
    "403": "Your role in this team does not allow this.",
    "404": "No such object, or it belongs to a team you are not a member of.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add the ``Error`` component and the common error responses to every operation under /api/."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if path.startswith("/api/schema") or path.startswith("/api/auth/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": reference})
            for code, response in responses.items():
                if code.startswith("4"):
                    response.setdefault("content", reference)
    return result
