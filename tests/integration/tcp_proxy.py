"""A TCP proxy the test controls: forwards to a server (PostgreSQL) until it is taken down.

While down it accepts and at once closes every new connection (the client sees the server end
the connection, as during a database restart or a network cut) and it has cut every connection
it was forwarding; ``bring_up`` forwards new connections again.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from scripts.local_stack import free_port


class TcpProxy:
    """Listens on 127.0.0.1:``port`` and forwards each connection to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.refused = 0
        self._up = True
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def take_down(self) -> None:
        """Cut every forwarded connection and refuse new ones until ``bring_up``."""
        with self._lock:
            self._up = False
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def bring_up(self) -> None:
        """Forward new connections again."""
        with self._lock:
            self._up = True

    def close(self) -> None:
        """Stop listening and cut everything."""
        self.take_down()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                up = self._up
                if not up:
                    self.refused += 1
            if not up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.extend([client, server])
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
