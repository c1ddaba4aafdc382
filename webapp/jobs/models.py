"""The Job record: one request for engine work, from creation to its terminal status."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp import events


class JobType(models.TextChoices):
    """What a job computes (the stored values); the domain apps register the kinds that run them
    (``webapp.jobs.registry``), and only registered types can be requested."""

    EMBED_IMAGE = "embed_image", "Embed image"
    TRAIN_BRANCH = "train_branch", "Train segmentation branch"
    OPTIMIZE_EDIT = "optimize_edit", "Optimize edit"
    REFINE = "refine", "Refine edit"
    RENDER = "render", "Render"
    SCORE_UNCERTAINTY = "score_uncertainty", "Score images by uncertainty"
    IMPORT_MODEL = "import_model", "Import model"
    PREDICT_MASK = "predict_mask", "Predict part mask"


class JobStatus(models.TextChoices):
    """Where a job is in its lifecycle (docs/jobs.md draws the transitions)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    """A unit of engine work requested by a team member, run once to a terminal status by a worker."""

    TEAM_PATH = "team"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="jobs"
    )
    type = models.CharField(max_length=32, choices=JobType.choices)
    parameters = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)

    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_loss = models.FloatField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    error_message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Last sign of life: beaten by the worker while the job runs, set when (re)enqueued.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "status"], name="job_team_status")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} job {self.pk} ({self.status})"

    @property
    def group_name(self) -> str:
        """The channel-layer group that receives this job's progress and status events."""
        return events.job_group(self.pk)

    @property
    def is_terminal(self) -> bool:
        """Whether the job has finished (succeeded, failed or cancelled) and will not run again."""
        return self.status in TERMINAL_STATUSES
