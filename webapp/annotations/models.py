"""Part masks as immutable versions, and the segmentation branches trained from them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from webapp.assets.models import GeneratorModel, Image


class AnnotationVersion(models.Model):
    """One saved part mask of an image; never changed after it is written. The highest number is current."""

    TEAM_PATH = "image__team"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotation_versions")
    number = models.PositiveIntegerField(help_text="1 for the first version of an image, then 2, 3 ...")
    parent = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children"
    )
    mask = models.FileField(help_text="Indexed PNG of label indices at the image's normalized size.")
    label_pixels = models.JSONField(default=dict, help_text="Pixels per label index present in the mask.")
    note = models.CharField(max_length=200, blank=True)
    is_done = models.BooleanField(
        default=True, help_text="Marked finished by its annotator (false: a draft, e.g. an autosave)."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["image", "number"], name="one_annotation_number_per_image")
        ]

    def __str__(self) -> str:
        return f"annotation v{self.number} of {self.image}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Write a new version; an existing version is immutable."""
        if not self._state.adding:
            raise ValueError("annotation versions are immutable; save a new version instead")
        super().save(*args, **kwargs)


class SegmentationBranch(models.Model):
    """A trained segmentation branch of a model; at most one per model is active."""

    TEAM_PATH = "model__team"

    model = models.ForeignKey(GeneratorModel, on_delete=models.CASCADE, related_name="branches")
    weights = models.FileField(help_text="Branch weights (safetensors).")
    config = models.JSONField(default=dict, blank=True)
    trained_on = models.ManyToManyField(AnnotationVersion, related_name="trained_branches", blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="E.g. per-label IoU on held-out annotations."
    )
    job = models.OneToOneField(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="segmentation_branch",
        help_text="The training job that produced it (one branch per job).",
    )
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model_id", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"], condition=models.Q(is_active=True), name="one_active_branch_per_model"
            )
        ]

    def __str__(self) -> str:
        return f"branch {self.pk} of {self.model}{' (active)' if self.is_active else ''}"


class ImageUncertainty(models.Model):
    """How much a branch's ensemble disagrees on one image: the score for choosing what to annotate next."""

    TEAM_PATH = "image__team"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="uncertainty_scores")
    branch = models.ForeignKey(
        SegmentationBranch, on_delete=models.CASCADE, related_name="uncertainty_scores"
    )
    score = models.FloatField(help_text="Mean Jensen-Shannon divergence of the members on the image (nats).")
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The scoring job that wrote the score last.",
    )
    scored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "image_id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "branch"], name="one_uncertainty_per_image_and_branch")
        ]

    def __str__(self) -> str:
        return f"uncertainty {self.score:.4f} of {self.image} under branch {self.branch_id}"
