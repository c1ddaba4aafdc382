"""An edit session on one image: who takes part and the ordered stack of edits, with a revision."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.assets.models import Image
from webapp.library.models import EditVector


class EditSession(models.Model):
    """A shared editing session of an image; every stack change bumps ``revision``."""

    TEAM_PATH = "image__team"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="edit_sessions")
    title = models.CharField(max_length=200, blank=True)
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="edit_sessions", blank=True)
    revision = models.PositiveIntegerField(default=0)
    # Render coalescing (services.schedule_render): when the one render of this session in flight
    # was queued (null: none), the revision its last frame showed, and whether a segmentation or
    # a render of the current state (a client connected) was asked for while one was in flight.
    render_queued_at = models.DateTimeField(null=True, blank=True)
    rendered_revision = models.IntegerField(default=-1)
    segmentation_requested = models.BooleanField(default=False)
    render_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"session {self.pk} on {self.image}"


class StackEntry(models.Model):
    """One edit in a session's stack: a library vector at a scale, or an edited part mask."""

    TEAM_PATH = "session__image__team"

    class Kind(models.TextChoices):
        VECTOR = "vector", "Vector at a scale"
        MASK_EDIT = "mask_edit", "Edited part mask"

    session = models.ForeignKey(EditSession, on_delete=models.CASCADE, related_name="entries")
    position = models.PositiveIntegerField(help_text="0 for the first edit applied.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    vector = models.ForeignKey(
        EditVector, on_delete=models.RESTRICT, null=True, blank=True, related_name="stack_entries"
    )
    scale = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True, help_text="Disabled entries are kept but not applied.")
    mask = models.FileField(blank=True, help_text="The edited label map (indexed PNG) of a mask edit.")
    result_vector = models.ForeignKey(
        EditVector,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The vector an optimisation made from this mask edit.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="vector", vector__isnull=False, scale__isnull=False))
                | (models.Q(kind="mask_edit", vector__isnull=True) & ~models.Q(mask="")),
                name="stack_entry_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.kind} in {self.session}"


class StackOperation(models.Model):
    """A stack operation a client sent, by its op id: a repeated op id is applied only once."""

    TEAM_PATH = "session__image__team"

    session = models.ForeignKey(EditSession, on_delete=models.CASCADE, related_name="operations")
    op_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    revision = models.PositiveIntegerField(help_text="The session's revision after the operation.")
    entry_id = models.PositiveIntegerField(null=True, blank=True, help_text="The entry it made or changed.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "op_id"], name="one_op_id_per_session")]

    def __str__(self) -> str:
        return f"{self.kind} {self.op_id} in {self.session}"


class SessionVector(models.Model):
    """A library vector made in a session (its stack saved as one vector, or a mask edit optimised).

    The library shows it as the vector's ``source_session``; the link lives here so that the
    library app depends on nothing of the edit sessions.
    """

    TEAM_PATH = "session__image__team"

    vector = models.OneToOneField(
        EditVector, on_delete=models.CASCADE, primary_key=True, related_name="session_origin"
    )
    session = models.ForeignKey(EditSession, on_delete=models.CASCADE, related_name="made_vectors")

    class Meta:
        ordering = ["session_id", "vector_id"]

    def __str__(self) -> str:
        return f"{self.vector} from {self.session}"
