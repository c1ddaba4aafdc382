"""The log line format of web and worker processes: ISO 8601 UTC timestamps with milliseconds."""

from __future__ import annotations

import logging
import time


class UTCFormatter(logging.Formatter):
    """``2026-12-01T20:15:03.412Z INFO [1234] webapp.jobs: message`` (times in UTC, never local)."""

    # typeshed types ``converter`` as taking one argument; time.gmtime's optional one fits.
    converter = time.gmtime  # type: ignore[assignment]
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"
