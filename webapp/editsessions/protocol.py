"""The session WebSocket message schema: parsing and validation of client messages.

docs/protocol.md ("Edit session") is the human-readable form of this module. Parsing only
checks shapes and ranges; whether an operation is allowed and applies is the service's call.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_BYTES = 256 * 1024
MAX_ID = 2**53 - 1
MAX_TOOL_LENGTH = 32
MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000
MAX_TAGS = 20
MAX_JOB_STEPS = 1000

OPERATIONS = ("add_vector", "add_mask_edit", "set_scale", "set_enabled", "move", "remove")
OTHER_TYPES = ("presence", "segment", "sync", "optimize", "refine", "cancel_job", "save_vector")
MESSAGE_TYPES = OPERATIONS + OTHER_TYPES
# Messages a watcher (viewer role) may send; everything else changes the session.
WATCH_TYPES = frozenset({"presence", "segment", "sync"})


class ProtocolError(Exception):
    """A client message the server refuses; ``code`` is machine-readable, ``message`` human-readable."""

    def __init__(self, code: str, message: str, request_id: int | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details

    def as_message(self) -> dict[str, Any]:
        """The JSON error message sent back to the client."""
        return {"type": "error", "code": self.code, "message": self.message, "request_id": self.request_id,
                "details": self.details}


@dataclass(frozen=True)
class ClientMessage:
    """A validated client message: its ``type``, the optional ``request_id`` and the checked fields."""

    type: str
    request_id: int | None
    fields: dict[str, Any] = field(default_factory=dict)


def parse_client_text(text: str) -> ClientMessage:
    """Parse and validate one text frame; raise ``ProtocolError`` when it is refused."""
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise ProtocolError("message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ProtocolError("invalid_json", "message is not valid JSON") from error
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    request_id = data.get("request_id")
    if request_id is not None and not _is_int(request_id, 0, MAX_ID):
        raise ProtocolError("invalid_field", f"request_id must be an integer in [0, {MAX_ID}]")
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}; expected one of "
                            f"{', '.join(MESSAGE_TYPES)}", request_id)
    reader = _Reader(data, request_id)
    fields = PARSERS[kind](reader)
    return ClientMessage(type=kind, request_id=request_id, fields=fields)


class _Reader:
    """Reads typed fields of one message, raising ``invalid_field`` errors that name the field."""

    def __init__(self, data: dict[str, Any], request_id: int | None) -> None:
        self.data = data
        self.request_id = request_id

    def fail(self, name: str, rule: str) -> ProtocolError:
        """The error of a field that breaks ``rule``."""
        return ProtocolError("invalid_field", f"{name} must be {rule}", self.request_id, {"field": name})

    def integer(self, name: str, low: int = 0, high: int = MAX_ID, default: Any = ...) -> Any:
        """An integer field in ``[low, high]`` (optional when ``default`` is given)."""
        value = self.data.get(name, default)
        if value is ... or (value is not default and not _is_int(value, low, high)):
            raise self.fail(name, f"an integer in [{low}, {high}]")
        return value

    def number(self, name: str, default: Any = ...) -> Any:
        """A finite number field (optional when ``default`` is given)."""
        value = self.data.get(name, default)
        if value is default and default is not ...:
            return value
        if not _is_number(value):
            raise self.fail(name, "a finite number")
        return float(value)

    def text(self, name: str, max_length: int, default: Any = ..., allow_empty: bool = True) -> Any:
        """A string field of at most ``max_length`` characters."""
        value = self.data.get(name, default)
        if value is default and default is not ...:
            return value
        if not isinstance(value, str) or len(value) > max_length or (not allow_empty and not value.strip()):
            raise self.fail(name, f"a {'non-empty ' if not allow_empty else ''}string of at most "
                                  f"{max_length} characters")
        return value

    def op_id(self) -> str | None:
        """The optional client-chosen operation id (1 to 64 characters)."""
        value = self.data.get("op_id")
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= 64):
            raise self.fail("op_id", "a string of 1 to 64 characters")
        return value


def _operation(reader: _Reader) -> dict[str, Any]:
    """The fields every stack operation carries."""
    return {"base_revision": reader.integer("base_revision"), "op_id": reader.op_id()}


def _parse_add_vector(reader: _Reader) -> dict[str, Any]:
    return {**_operation(reader), "vector": reader.integer("vector"), "scale": reader.number("scale", None)}


def _parse_add_mask_edit(reader: _Reader) -> dict[str, Any]:
    encoded = reader.text("mask_png", MAX_MESSAGE_BYTES, allow_empty=False)
    try:
        mask = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise reader.fail("mask_png", "a base64-encoded PNG of label indices") from error
    return {**_operation(reader), "mask": mask}


def _parse_set_scale(reader: _Reader) -> dict[str, Any]:
    return {**_operation(reader), "entry": reader.integer("entry"), "scale": reader.number("scale")}


def _parse_set_enabled(reader: _Reader) -> dict[str, Any]:
    enabled = reader.data.get("enabled")
    if not isinstance(enabled, bool):
        raise reader.fail("enabled", "true or false")
    return {**_operation(reader), "entry": reader.integer("entry"), "enabled": enabled}


def _parse_move(reader: _Reader) -> dict[str, Any]:
    return {**_operation(reader), "entry": reader.integer("entry"), "position": reader.integer("position")}


def _parse_remove(reader: _Reader) -> dict[str, Any]:
    return {**_operation(reader), "entry": reader.integer("entry")}


def _parse_presence(reader: _Reader) -> dict[str, Any]:
    pointer = reader.data.get("pointer")
    in_image = isinstance(pointer, list) and len(pointer) == 2 and all(_is_number(v) and 0 <= v <= 1
                                                                       for v in pointer)
    if pointer is not None and not in_image:
        raise reader.fail("pointer", "null or [x, y] with 0 <= x, y <= 1 (fractions of the image)")
    return {"tool": reader.text("tool", MAX_TOOL_LENGTH, ""), "pointer": pointer}


def _parse_nothing(reader: _Reader) -> dict[str, Any]:
    return {}


def _parse_job(reader: _Reader) -> dict[str, Any]:
    return {"entry": reader.integer("entry"), "steps": reader.integer("steps", 1, MAX_JOB_STEPS, None),
            "name": reader.text("name", MAX_NAME_LENGTH, "")}


def _parse_cancel_job(reader: _Reader) -> dict[str, Any]:
    return {"job": reader.integer("job")}


def _parse_save_vector(reader: _Reader) -> dict[str, Any]:
    tags = reader.data.get("tags", [])
    if not (isinstance(tags, list) and len(tags) <= MAX_TAGS
            and all(isinstance(tag, str) and 0 < len(tag) <= 50 for tag in tags)):
        raise reader.fail("tags", f"a list of at most {MAX_TAGS} strings of 1 to 50 characters")
    return {"name": reader.text("name", MAX_NAME_LENGTH, allow_empty=False),
            "description": reader.text("description", MAX_DESCRIPTION_LENGTH, ""), "tags": tags}


PARSERS = {
    "add_vector": _parse_add_vector,
    "add_mask_edit": _parse_add_mask_edit,
    "set_scale": _parse_set_scale,
    "set_enabled": _parse_set_enabled,
    "move": _parse_move,
    "remove": _parse_remove,
    "presence": _parse_presence,
    "segment": _parse_nothing,
    "sync": _parse_nothing,
    "optimize": _parse_job,
    "refine": _parse_job,
    "cancel_job": _parse_cancel_job,
    "save_vector": _parse_save_vector,
}


def _is_int(value: object, low: int, high: int) -> bool:
    """Whether ``value`` is a JSON integer (not a boolean) within ``[low, high]``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: object) -> bool:
    """Whether ``value`` is a finite JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
