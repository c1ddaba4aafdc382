"""Generator models with their part-label taxonomies, and the images a team works on."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.teams.models import Team


class GeneratorModel(models.Model):
    """A registered generator checkpoint (a model directory on the server) and what it is."""

    TEAM_PATH = "team"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="generator_models")
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=500, help_text="Model directory on the server (config + weights).")
    config = models.JSONField(help_text="The generator config stored beside the weights.")
    resolution = models.PositiveIntegerField()
    num_ws = models.PositiveSmallIntegerField(help_text="Rows of a W+ latent.")
    w_dim = models.PositiveIntegerField()
    weights_hash = models.CharField(max_length=64, help_text="SHA-256 of the generator weights.")
    metadata = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, help_text="New images and edits use active models only.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "weights_hash"], name="one_model_per_team_weights")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.resolution}px, {self.weights_hash[:8]})"

    def context_label_indices(self) -> tuple[int, ...]:
        """The taxonomy's context label indices, ascending (for ``EditConfig.context_labels``)."""
        return tuple(self.labels.filter(is_context=True).order_by("index").values_list("index", flat=True))


class PartLabel(models.Model):
    """One label of a model's taxonomy; ``index`` is the value stored in masks."""

    TEAM_PATH = "model__team"

    model = models.ForeignKey(GeneratorModel, on_delete=models.CASCADE, related_name="labels")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64)
    colour = models.CharField(max_length=7, help_text="Display colour, #rrggbb.")
    is_context = models.BooleanField(
        default=False,
        help_text="A host label (background, skin): its unchanged pixels stay out of edit regions.",
    )

    class Meta:
        ordering = ["model_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["model", "index"], name="one_label_per_model_index"),
            models.UniqueConstraint(fields=["model", "name"], name="one_label_per_model_name"),
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.name}"


class Image(models.Model):
    """An uploaded photo (original kept) or a generator sample, normalized to the model's resolution."""

    TEAM_PATH = "team"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded"
        SAMPLE = "sample", "Sampled"

    class Status(models.TextChoices):
        PENDING = "pending", "No latent yet"
        PROCESSING = "processing", "Latent being computed"
        READY = "ready", "Latent stored"
        FAILED = "failed", "Latent computation failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="images")
    model = models.ForeignKey(GeneratorModel, on_delete=models.RESTRICT, related_name="images")
    name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    seed = models.BigIntegerField(null=True, blank=True)
    truncation_psi = models.FloatField(null=True, blank=True)
    original = models.FileField(blank=True, help_text="The uploaded file, byte for byte.")
    original_format = models.CharField(max_length=8, blank=True)
    original_width = models.PositiveIntegerField(null=True, blank=True)
    original_height = models.PositiveIntegerField(null=True, blank=True)
    crop_box = models.JSONField(
        null=True, blank=True, help_text="[left, top, right, bottom] in the EXIF-oriented original."
    )
    normalized = models.FileField(blank=True, help_text="RGB PNG at the model's resolution.")
    latent = models.FileField(blank=True, help_text="W+ latent (safetensors).")
    reconstruction = models.FileField(
        blank=True, help_text="The latent rendered by the generator (PNG), to compare with the photo."
    )
    embedding_error = models.FloatField(
        null=True, blank=True, help_text="Reconstruction error of the latent."
    )
    embedding_metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    status_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return self.name or f"image {self.pk}"
