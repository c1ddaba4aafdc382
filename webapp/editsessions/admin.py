"""Operator admin for edit sessions and their stacks."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from webapp.api.files import admin_file_link

from .models import EditSession, SessionVector, StackEntry, StackOperation


class StackEntryInline(admin.TabularInline):
    """The stack, shown on the session's page (read-only: it changes through the app)."""

    model = StackEntry
    extra = 0
    can_delete = False
    mask_file = admin_file_link("mask", "session-entry-mask", parent="session_id")
    readonly_fields = [
        "position",
        "kind",
        "vector",
        "scale",
        "mask_file",
        "result_vector",
        "created_by",
        "created_at",
    ]

    exclude = ["mask"]  # linked to its API view above (MEDIA_URL is not served)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EditSession)
class EditSessionAdmin(admin.ModelAdmin):
    """Sessions with their stacks."""

    list_display = ["__str__", "image", "revision", "created_by", "updated_at"]
    list_filter = ["image__team"]
    search_fields = ["title", "image__name"]
    readonly_fields = ["image", "revision", "created_by", "created_at", "updated_at"]
    filter_horizontal = ["participants"]
    inlines = [StackEntryInline]


@admin.register(StackEntry)
class StackEntryAdmin(admin.ModelAdmin):
    """Every stack entry (read-only)."""

    list_display = ["__str__", "kind", "vector", "scale", "created_at"]
    list_filter = ["kind"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SessionVector)
class SessionVectorAdmin(admin.ModelAdmin):
    """Which session each library vector was made in (read-only: the app records it)."""

    list_display = ["vector", "session"]
    list_filter = ["session__image__team"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StackOperation)
class StackOperationAdmin(admin.ModelAdmin):
    """The log of applied stack operations by op id (read-only: it is what makes op ids idempotent)."""

    list_display = ["op_id", "kind", "session", "revision", "user", "created_at"]
    list_filter = ["kind"]
    search_fields = ["op_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
