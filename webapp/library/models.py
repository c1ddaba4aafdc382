"""Edit vectors in a team's library, with provenance, tags and the scales they are meant for."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.assets.models import GeneratorModel, Image, PartLabel
from webapp.teams.models import Team


class Tag(models.Model):
    """A free-form tag of a team's vectors (``smile``, ``eyes``, ``subtle``)."""

    TEAM_PATH = "team"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["team_id", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_tag_name_per_team")]

    def __str__(self) -> str:
        return self.name


class EditVector(models.Model):
    """A W+ edit offset (a file) made with one generator model; applicable only to that model."""

    TEAM_PATH = "team"
    # Where a vector came from and how it was made: shown by the API, read-only in the admin
    # (``source_session`` is no field here: the serializer reads ``source_session_id``, the admin
    # has its own display of it).
    PROVENANCE_FIELDS = (
        "author",
        "source_image",
        "source_session",
        "job",
        "settings",
        "loss_curve",
        "final_losses",
        "region",
    )

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="edit_vectors")
    model = models.ForeignKey(GeneratorModel, on_delete=models.RESTRICT, related_name="edit_vectors")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, related_name="vectors", blank=True)
    labels = models.ManyToManyField(
        PartLabel, related_name="edit_vectors", blank=True, help_text="Labels it edits."
    )
    vector = models.FileField(help_text="safetensors: tensor 'delta' [num_ws, w_dim] + JSON metadata.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    source_image = models.ForeignKey(
        Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="derived_vectors"
    )
    job = models.OneToOneField(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="edit_vector",
        help_text="The optimisation job that made it (one vector per job).",
    )
    settings = models.JSONField(default=dict, blank=True, help_text="Optimisation settings.")
    loss_curve = models.JSONField(default=list, blank=True)
    final_losses = models.JSONField(default=dict, blank=True)
    region = models.JSONField(default=dict, blank=True, help_text="Statistics of the edit region.")
    default_scale = models.FloatField(default=1.0)
    min_scale = models.FloatField(default=-2.0)
    max_scale = models.FloatField(default=2.0)
    usage_count = models.PositiveIntegerField(default=0)
    thumbnail_before = models.FileField(blank=True)
    thumbnail_after = models.FileField(blank=True)
    strength_strip = models.FileField(
        blank=True, help_text="The vector applied to a fixed sample at STRIP_SCALES, side by side (PNG)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_scale__lt=models.F("max_scale"))
                & models.Q(default_scale__gte=models.F("min_scale"))
                & models.Q(default_scale__lte=models.F("max_scale")),
                name="vector_scales_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def source_session_id(self) -> int | None:
        """The edit session the vector was made in (None if none).

        The link is the session's ``editsessions.SessionVector`` row (reverse accessor
        ``session_origin``), so that the library depends on no edit-session model.
        """
        origin = getattr(self, "session_origin", None)
        return origin.session_id if origin is not None else None
