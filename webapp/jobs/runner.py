"""What a job kind's worker-side runner provides: compute with the engine, then store the result.

Each domain app's runner modules (``webapp.<app>.runners.<type>``) expose one ``RUNNER``; they
are imported only by worker processes (``webapp.jobs.registry.load_runner``) and are where the
webapp calls ``editing_engine``, always through imports inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.jobs.models import Job, JobStatus
from webapp.jobs.progress import JobHooks


@dataclass(frozen=True)
class Runner:
    """How a job type runs: ``compute`` calls the engine, ``store`` writes the result records.

    ``compute(job, hooks)`` may take minutes and must not write result records; it may write
    files under a name derived from the job id (a re-run then overwrites them). ``store(job,
    output)`` runs inside the transaction that marks the job succeeded and returns the job's
    ``result`` links (JSON: ids of what it created or filled). ``on_start(job)`` and
    ``on_stop(job, status, message)`` (failed or cancelled), when given, keep the domain object
    the job works on in step (e.g. an image's latent status).
    """

    compute: Callable[[Job, JobHooks], Any]
    store: Callable[[Job, Any], dict[str, Any]]
    on_start: Callable[[Job], None] | None = None
    on_stop: Callable[[Job, JobStatus, str], None] | None = None
