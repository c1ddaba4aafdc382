"""Operator admin for the edit-vector library."""

from django.contrib import admin

from webapp.api.files import admin_file_link

from .models import EditVector, Tag


@admin.register(EditVector)
class EditVectorAdmin(admin.ModelAdmin):
    """Vectors with provenance; the file and its origin are read-only."""

    list_display = ["name", "team", "model", "author", "usage_count", "created_at"]
    list_filter = ["team", "model", "tags"]
    search_fields = ["name", "description", "author__username"]
    filter_horizontal = ["tags"]
    # Files are linked to their API views below (MEDIA_URL is not served).
    exclude = ["vector", "thumbnail_before", "thumbnail_after"]
    vector_file = admin_file_link("vector", "vector-file", "vector")
    before_file = admin_file_link("thumbnail_before", "vector-file", "before")
    after_file = admin_file_link("thumbnail_after", "vector-file", "after")
    readonly_fields = [
        "team",
        "model",
        "vector_file",
        "before_file",
        "after_file",
        *EditVector.PROVENANCE_FIELDS,
        "usage_count",
        "labels",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="source session")
    def source_session(self, vector: EditVector) -> object:
        """The edit session the vector was made in, if any (the link is on the edit-session side)."""
        origin = getattr(vector, "session_origin", None)
        return origin.session if origin is not None else None


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags per team."""

    list_display = ["name", "team"]
    list_filter = ["team"]
    search_fields = ["name"]
