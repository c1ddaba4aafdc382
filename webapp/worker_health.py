"""``GET /healthz`` of a Celery worker: a small HTTP listener in the worker's main process.

Started when the worker is ready (``worker_ready``) if PARTEDIT_WORKER_HEALTH_PORT is set, so
container healthchecks, systemd watchdogs and load balancers probe workers the way they probe
web processes. It runs the same checks (``webapp.health``) and reports the node name.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.db import connection

from webapp.health import HEALTH_PATH, run_checks

logger = logging.getLogger(__name__)


class HealthHandler(BaseHTTPRequestHandler):
    """Answers ``/healthz`` with the health document, 404 for any other path."""

    node_name = "worker"

    def do_GET(self) -> None:
        """Run the checks and send the document."""
        if self.path.split("?", 1)[0] != HEALTH_PATH:
            self.send_error(404)
            return
        status, document = run_checks("worker")
        # Each probe runs in a thread of its own: close the database connection it opened.
        connection.close()
        body = json.dumps({**document, "node": self.node_name}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes come every few seconds: keep them out of the worker log."""


def serve_health(port: int, node_name: str, bind: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Start the listener on ``bind:port`` in a daemon thread and return the server."""
    handler = type("NodeHealthHandler", (HealthHandler,), {"node_name": node_name})
    server = ThreadingHTTPServer((bind, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="partedit-health", daemon=True).start()
    logger.info("worker health check listening on %s:%d%s", bind, port, HEALTH_PATH)
    return server
