"""WebSocket handshakes and frame limits through a real daphne (docs/protocol.md, "Handshake and connection").

A raw RFC 6455 client on a socket: what a browser sees is the HTTP status of the handshake and
the close frame, which Channels' in-process communicator cannot show.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.integration.support import worker_database_url

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def daphne_port(transactional_db: None, redis_url: str, tmp_path: Path) -> Iterator[int]:
    """A daphne serving the app on the test database and the test Redis; its port."""
    from scripts.local_stack import free_port, start_daphne, stop, wait_for_port

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DEBUG": "0",
           "SECRET_KEY": "test-only-secret-key", "REDIS_URL": redis_url, "SECURE_COOKIES": "0",
           "DATABASE_URL": worker_database_url(), "MEDIA_ROOT": str(tmp_path / "media")}
    port = free_port()
    with (tmp_path / "daphne.log").open("wb") as log:
        server = start_daphne(port, env, log)
    try:
        wait_for_port(port, server, timeout=120)
        yield port
    finally:
        stop([server])


class Connection:
    """A client socket and the bytes read from it but not consumed yet."""

    def __init__(self, sock: socket.socket, pending: bytes) -> None:
        self.sock = sock
        self.pending = pending

    def recv(self, size: int) -> bytes:
        """The pending bytes first, then what the socket gives (b"" once the server closed it)."""
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        try:
            return self.sock.recv(size)
        except ConnectionResetError:
            return b""

    def sendall(self, data: bytes) -> None:
        """Send ``data``."""
        self.sock.sendall(data)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()


def handshake(port: int, path: str, cookie: str = "") -> tuple[Connection, str]:
    """Open a WebSocket on ``path`` with this site's Origin; the connection and the HTTP status line."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Origin: http://127.0.0.1:{port}"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = connection.recv(4096)
        if not chunk:
            break
        response += chunk
    head, _, rest = response.partition(b"\r\n\r\n")
    return Connection(connection, rest), head.split(b"\r\n", 1)[0].decode()


def next_close_code(connection: Connection, stop_at_text: bool = False) -> int | None:
    """Read server frames up to the close frame and return its code; None if the TCP connection just ends.

    With ``stop_at_text``, return 0 at the first text frame instead.
    """
    return next_close(connection, stop_at_text)[0]


def next_close(connection: Connection, stop_at_text: bool = False) -> tuple[int | None, str]:
    """Like ``next_close_code``, with the close frame's reason ("" when it has none)."""
    buffer = b""
    while True:
        while len(buffer) < 2:
            chunk = connection.recv(65536)
            if not chunk:
                return None, ""
            buffer += chunk
        opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
        header = 2 + {126: 2, 127: 8}.get(length, 0)
        while len(buffer) < header:
            buffer += connection.recv(65536)
        if length == 126:
            length = struct.unpack(">H", buffer[2:4])[0]
        elif length == 127:
            length = struct.unpack(">Q", buffer[2:10])[0]
        while len(buffer) < header + length:
            chunk = connection.recv(65536)
            if not chunk:
                return None, ""
            buffer += chunk
        payload, buffer = buffer[header:header + length], buffer[header + length:]
        if opcode == 0x8:
            if len(payload) < 2:
                return None, ""
            return int(struct.unpack(">H", payload[:2])[0]), payload[2:].decode()
        if opcode == 0x1 and stop_at_text:
            return 0, ""


def text_frame(payload: bytes) -> bytes:
    """One masked client text frame."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack(">BB", 0x81, 0x80 | length)
    elif length < 2**16:
        head = struct.pack(">BBH", 0x81, 0x80 | 126, length)
    else:
        head = struct.pack(">BBQ", 0x81, 0x80 | 127, length)
    return head + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


@pytest.mark.parametrize(("path", "code"), [("/ws/other/", 4404), ("/ws/jobs/-1/", 4404),
                                          ("/ws/jobs/1/", 4401)])
def test_refusals_are_close_codes_not_http_errors(daphne_port: int, path: str, code: int) -> None:
    connection, status = handshake(daphne_port, path)
    with connection:
        assert status.startswith("HTTP/1.1 101"), status
        assert next_close_code(connection) == code


def test_a_message_over_one_mib_is_closed_with_1009_and_a_reason(daphne_port: int, django_user_model: Any
                                                                   ) -> None:
    from webapp.jobs.models import Job
    from webapp.teams.models import Membership, Role, Team

    user = django_user_model.objects.create_user(username="ana", password="pw")
    team = Team.objects.create(name="Lab", slug="lab")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    job = Job.objects.create(team=team, requested_by=user, type="render", queue="preview")
    browser = Client()
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    connection, status = handshake(daphne_port, f"/ws/jobs/{job.pk}/", cookie)
    with connection:
        assert status.startswith("HTTP/1.1 101"), status
        assert next_close_code(connection, stop_at_text=True) == 0  # the snapshot: the socket is open
        connection.sendall(text_frame(b"x" * 1000))
        assert next_close_code(connection, stop_at_text=True) == 0  # read_only error; still open
        connection.sendall(text_frame(b"x" * (1024 * 1024 + 1)))
        code, reason = next_close(connection)
    assert code == 1009  # "message too big", not a dropped TCP connection (1006 in a browser)
    assert "exceeds payload limit of 1048576 octets" in reason
    # The server is fine: the client that reconnects gets its snapshot again.
    connection, status = handshake(daphne_port, f"/ws/jobs/{job.pk}/", cookie)
    with connection:
        assert status.startswith("HTTP/1.1 101"), status
        assert next_close_code(connection, stop_at_text=True) == 0
