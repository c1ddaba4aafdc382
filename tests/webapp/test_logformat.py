"""The log line format: UTC ISO 8601 time with milliseconds, level, process id, logger, message."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.utils.module_loading import import_string


def test_records_are_one_utc_line_each() -> None:
    spec = settings.LOGGING["formatters"]["line"]
    formatter = import_string(spec["()"])(spec["format"])
    record = logging.LogRecord("webapp.jobs", logging.WARNING, __file__, 1, "job %s lost", (7,), None)
    record.created, record.msecs = 0.25, 250.0  # 1970-01-01 00:00:00.250 UTC, whatever the local zone
    assert re.fullmatch(r"1970-01-01T00:00:00\.250Z WARNING \[\d+\] webapp\.jobs: job 7 lost",
                        formatter.format(record))
