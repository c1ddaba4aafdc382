"""Operator admin for generator models, their labels, and images."""

from django.contrib import admin

from webapp.api.files import admin_file_link

from .models import GeneratorModel, Image, PartLabel


class PartLabelInline(admin.TabularInline):
    """The taxonomy, edited on the model's page (names, colours, context flags; indices are fixed)."""

    model = PartLabel
    extra = 0
    readonly_fields = ["index"]
    can_delete = False


@admin.register(GeneratorModel)
class GeneratorModelAdmin(admin.ModelAdmin):
    """Registered models; register new ones with ``manage.py register_demo_model --path``."""

    list_display = ["name", "team", "resolution", "weights_hash", "is_active", "created_at"]
    list_filter = ["is_active", "team"]
    search_fields = ["name", "weights_hash", "path"]
    readonly_fields = ["config", "resolution", "num_ws", "w_dim", "weights_hash", "path", "created_at"]
    inlines = [PartLabelInline]


@admin.register(PartLabel)
class PartLabelAdmin(admin.ModelAdmin):
    """Every label of every model."""

    list_display = ["model", "index", "name", "colour", "is_context"]
    list_filter = ["model", "is_context"]
    search_fields = ["name"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    """Images with their status; the files are linked, not editable."""

    list_display = ["__str__", "team", "model", "source", "status", "embedding_error", "created_at"]
    list_filter = ["status", "source", "team"]
    search_fields = ["name"]
    original_file = admin_file_link("original", "image-file", "original")
    normalized_file = admin_file_link("normalized", "image-file", "normalized")
    latent_file = admin_file_link("latent", "image-file", "latent")
    reconstruction_file = admin_file_link("reconstruction", "image-file", "reconstruction")
    readonly_fields = [
        "original_file",
        "normalized_file",
        "latent_file",
        "reconstruction_file",
        "original_format",
        "original_width",
        "original_height",
        "crop_box",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["created_by"]
    # Files are linked to their API views above (MEDIA_URL is not served).
    exclude = ["original", "normalized", "latent", "reconstruction"]
