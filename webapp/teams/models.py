"""A team owns every image, annotation, model and vector; members hold one role each."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """What a member may do; the action table in ``permissions.py`` is the only place that says so."""

    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class Team(models.Model):
    """A group of people sharing images, annotations, models and an edit-vector library."""

    TEAM_PATH = ""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """One user's role in one team."""

    TEAM_PATH = "team"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"
