"""``manage.py sweep_jobs``: recover lost jobs every JOBS_SWEEP_SECONDS (or once, with ``--once``)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from webapp.jobs.recovery import sweep


class Command(BaseCommand):
    """Re-run, fail or cancel jobs whose worker is gone; enqueue again queued jobs without a message."""

    help = "Recover lost jobs (docs/jobs.md, 'Heartbeat and sweeper'): once, or every JOBS_SWEEP_SECONDS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Sweep once and exit (for cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = float(settings.JOBS_SWEEP_SECONDS)
        while True:
            try:
                report = sweep()
            except DatabaseError as error:
                self.stderr.write(f"sweep failed, the database is unreachable: {error}")
            else:
                done = {name: ids for name, ids in vars(report).items() if ids}
                if done or options["once"]:
                    self.stdout.write(f"swept: {done or 'nothing to do'}")
            finally:
                close_old_connections()
            if options["once"]:
                return
            time.sleep(interval)
