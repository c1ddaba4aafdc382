"""A minimal blocking WebSocket client (RFC 6455) for tests against real daphne processes.

Just enough for reading a server's text messages: the opening handshake with extra headers
(cookies, Origin), unmasked server frames of any length, and answering pings. No dependency
beyond the standard library.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any

OPCODE_TEXT, OPCODE_CLOSE, OPCODE_PING = 0x1, 0x8, 0x9


class WebSocketClosedError(ConnectionError):
    """The server closed the connection (carries the close code, if any)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"WebSocket closed with code {code}")
        self.code = code


class WebSocket:
    """A connected client socket; ``receive_json`` returns the next text message decoded."""

    def __init__(self, port: int, path: str, headers: dict[str, str], timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
                 *(f"{name}: {value}" for name, value in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WebSocketClosedError(None)
            response += chunk
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {status.decode(errors='replace')}")

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketClosedError(None)
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive_json(self) -> Any:
        """The next text message as JSON (binary messages are skipped, pings answered)."""
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
            if opcode == OPCODE_CLOSE:
                raise WebSocketClosedError(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
            if opcode == OPCODE_PING:
                self._send(0xA, payload)
                continue
            if opcode in (OPCODE_TEXT, 0x0):
                message += payload
                if first & 0x80:
                    return json.loads(message)
            elif first & 0x80:
                message = b""

    def close(self) -> None:
        """Close the TCP connection."""
        self.sock.close()
