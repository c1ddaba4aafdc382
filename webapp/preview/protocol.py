"""The preview WebSocket message schema: parsing and validation of client messages.

docs/protocol.md ("Preview") is the human-readable form of this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_MESSAGE_BYTES = 1024
SEED_MIN, SEED_MAX = 0, 2**32 - 1
PSI_MIN, PSI_MAX = -1.0, 2.0
# The largest integer a browser's Number holds exactly.
REQUEST_ID_MAX = 2**53 - 1


class ProtocolError(Exception):
    """A client message the server refuses; ``code`` is machine-readable, ``message`` human-readable."""

    def __init__(self, code: str, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def as_message(self) -> dict[str, Any]:
        """The JSON error message sent back to the client."""
        return {"type": "error", "code": self.code, "message": self.message, "request_id": self.request_id}


@dataclass(frozen=True)
class RenderRequest:
    """A validated request to render the image of ``seed`` at truncation ``psi``."""

    seed: int
    psi: float
    request_id: int | None


def parse_client_text(text: str) -> RenderRequest:
    """Parse and validate one text frame from the client; raise ProtocolError when it is refused."""
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise ProtocolError("message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {error.msg}") from error
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    request_id = data.get("request_id")
    if request_id is not None and not _is_int_in(request_id, 0, REQUEST_ID_MAX):
        raise ProtocolError("invalid_field", f"request_id must be an integer in [0, {REQUEST_ID_MAX}]")
    if data.get("type") != "render":
        raise ProtocolError("unknown_type", f"unknown message type {data.get('type')!r}; expected 'render'",
                            request_id)
    seed, psi = data.get("seed"), data.get("psi")
    if not _is_int_in(seed, SEED_MIN, SEED_MAX):
        raise ProtocolError("invalid_field", f"seed must be an integer in [{SEED_MIN}, {SEED_MAX}]",
                            request_id)
    if not _is_number_in(psi, PSI_MIN, PSI_MAX):
        raise ProtocolError("invalid_field", f"psi must be a number in [{PSI_MIN}, {PSI_MAX}]", request_id)
    return RenderRequest(seed=seed, psi=float(psi), request_id=request_id)


def _is_int_in(value: object, low: int, high: int) -> TypeGuard[int]:
    """Whether ``value`` is a JSON integer (not a boolean) within ``[low, high]``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number_in(value: object, low: float, high: float) -> TypeGuard[float]:
    """Whether ``value`` is a finite JSON number (not a boolean) within ``[low, high]``."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )
