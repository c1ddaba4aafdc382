"""JSON shapes of generator models, part labels and images."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webapp.annotations.services import ANNOTATION_STATES, annotation_summary

from .models import GeneratorModel, Image, PartLabel


class PartLabelSerializer(serializers.ModelSerializer):
    """One label of a taxonomy."""

    class Meta:
        model = PartLabel
        fields = ["index", "name", "colour", "is_context"]


class GeneratorModelSerializer(serializers.ModelSerializer):
    """A registered generator with its ordered part-label taxonomy."""

    labels = PartLabelSerializer(many=True, read_only=True)

    class Meta:
        model = GeneratorModel
        fields = [
            "id",
            "team",
            "name",
            "resolution",
            "num_ws",
            "w_dim",
            "weights_hash",
            "config",
            "is_active",
            "created_at",
            "labels",
        ]
        read_only_fields = fields


class ModelImportSerializer(serializers.Serializer):
    """A checkpoint upload to register as a model of ``team`` (converted by an ``import_model`` job)."""

    team = serializers.IntegerField()
    file = serializers.FileField(help_text="A rosinality .pt, an NVIDIA .pkl or a zipped PartEdit model.")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    labels = serializers.JSONField(
        required=False,
        default=None,
        help_text='The taxonomy, [{"name", "colour", "context"}] in index order (JSON text in a form); '
        "required unless the checkpoint brings its own labels.json.",
    )


class LabelInputSerializer(serializers.Serializer):
    """One label of a taxonomy being saved (its index is its position)."""

    name = serializers.CharField(max_length=64)
    colour = serializers.CharField(max_length=7, help_text="#rrggbb")
    is_context = serializers.BooleanField(required=False, default=False)


class TaxonomySerializer(serializers.Serializer):
    """A model's whole taxonomy in index order; existing labels keep their index."""

    labels = LabelInputSerializer(many=True)


class AnnotationStateSerializer(serializers.Serializer):
    """Where an image's annotation stands: none, a draft or done; its current version, author and time."""

    state = serializers.ChoiceField(choices=ANNOTATION_STATES)
    version = serializers.IntegerField(allow_null=True)
    author = serializers.CharField(allow_null=True)
    saved_at = serializers.DateTimeField(allow_null=True)


class ImageSerializer(serializers.ModelSerializer):
    """An image, with links to its files (downloads check permissions like every endpoint)."""

    files = serializers.SerializerMethodField()
    annotation = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "team",
            "model",
            "name",
            "source",
            "seed",
            "truncation_psi",
            "original_format",
            "original_width",
            "original_height",
            "crop_box",
            "status",
            "status_message",
            "embedding_error",
            "embedding_metrics",
            "created_by",
            "created_at",
            "updated_at",
            "annotation",
            "files",
        ]
        read_only_fields = [name for name in fields if name != "name"]

    @extend_schema_field(AnnotationStateSerializer)
    def get_annotation(self, image: Image) -> dict[str, Any]:
        """The image's annotation state (``none``, ``draft``, ``done``) with its current version."""
        return dict(AnnotationStateSerializer(annotation_summary(image)).data)

    def get_files(self, image: Image) -> dict[str, str | None]:
        """API paths of the image's original, normalized PNG, latent and rendering (None where absent)."""
        links: dict[str, str | None] = {}
        for kind in ("original", "normalized", "latent", "reconstruction"):
            stored = getattr(image, kind)
            links[kind] = reverse("image-file", args=[image.pk, kind]) if stored else None
        return links


class ImageUploadSerializer(serializers.Serializer):
    """A photo upload: the file, the model to use and an optional square crop."""

    model = serializers.IntegerField(help_text="Generator model id (it decides the team and resolution).")
    file = serializers.FileField(help_text="PNG, JPEG or WebP; the type is read from the content.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    crop_x = serializers.IntegerField(required=False, allow_null=True, default=None)
    crop_y = serializers.IntegerField(required=False, allow_null=True, default=None)
    crop_size = serializers.IntegerField(required=False, allow_null=True, default=None)
