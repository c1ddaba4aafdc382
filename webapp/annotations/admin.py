"""Operator admin for annotation versions (read-only: versions are immutable) and branches."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.api.files import admin_file_link

from .models import AnnotationVersion, ImageUncertainty, SegmentationBranch
from .services import make_active as activate


@admin.register(AnnotationVersion)
class AnnotationVersionAdmin(admin.ModelAdmin):
    """Browse versions; they cannot be changed, only deleted with their image."""

    list_display = ["__str__", "image", "number", "author", "created_at"]
    list_filter = ["image__team"]
    search_fields = ["image__name", "author__username", "note"]
    mask_file = admin_file_link("mask", "annotation-mask")
    readonly_fields = [
        "image", "number", "parent", "mask_file", "label_pixels", "note", "author", "created_at",
    ]
    exclude = ["mask"]  # linked to its API view above (MEDIA_URL is not served)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImageUncertainty)
class ImageUncertaintyAdmin(admin.ModelAdmin):
    """Active-learning scores (written by score_uncertainty jobs); read-only."""

    list_display = ["__str__", "image", "branch", "score", "scored_at"]
    list_filter = ["image__team"]
    readonly_fields = ["image", "branch", "score", "job", "scored_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SegmentationBranch)
class SegmentationBranchAdmin(admin.ModelAdmin):
    """Branches with their metrics; operators may switch the active one."""

    list_display = ["__str__", "model", "is_active", "job", "created_at"]
    list_filter = ["is_active", "model__team"]
    weights_file = admin_file_link("weights", "")
    readonly_fields = [
        "model",
        "weights_file",
        "config",
        "trained_on",
        "metrics",
        "job",
        "is_active",
        "created_by",
        "created_at",
    ]
    exclude = ["weights"]
    actions = ["make_active"]

    @admin.action(description="Make the selected branch its model's active branch")
    def make_active(self, request: HttpRequest, queryset: QuerySet[SegmentationBranch]) -> None:
        """Activate one branch (deactivating its model's previous one)."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one branch.", level=messages.ERROR)
            return
        activate(queryset.get())
