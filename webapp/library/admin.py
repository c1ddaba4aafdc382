"""Operator admin for the edit-vector library."""

from django.contrib import admin

from .models import EditVector, Tag


@admin.register(EditVector)
class EditVectorAdmin(admin.ModelAdmin):
    """Vectors with provenance; the file and its origin are read-only."""

    list_display = ["name", "team", "model", "author", "usage_count", "created_at"]
    list_filter = ["team", "model", "tags"]
    search_fields = ["name", "description", "author__username"]
    filter_horizontal = ["tags"]
    readonly_fields = [
        "team",
        "model",
        "vector",
        *EditVector.PROVENANCE_FIELDS,
        "usage_count",
        "thumbnail_before",
        "thumbnail_after",
        "labels",
        "created_at",
        "updated_at",
    ]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags per team."""

    list_display = ["name", "team"]
    list_filter = ["team"]
    search_fields = ["name"]
