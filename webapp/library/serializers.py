"""JSON shapes of edit vectors and tags."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from webapp.assets.serializers import PartLabelSerializer

from .models import EditVector, Tag


class EditVectorSerializer(serializers.ModelSerializer):
    """A library vector with its provenance, labels, tags, scales and file links."""

    tags: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name"
    )
    labels = PartLabelSerializer(many=True, read_only=True)
    author = serializers.CharField(source="author.username", read_only=True, default=None)
    source_session = serializers.IntegerField(source="source_session_id", read_only=True, allow_null=True)
    files = serializers.SerializerMethodField()

    class Meta:
        model = EditVector
        fields = [
            "id",
            "team",
            "model",
            "name",
            "description",
            "tags",
            "labels",
            *EditVector.PROVENANCE_FIELDS,
            "default_scale",
            "min_scale",
            "max_scale",
            "usage_count",
            "created_at",
            "updated_at",
            "files",
        ]
        read_only_fields = fields

    def get_files(self, vector: EditVector) -> dict[str, str | None]:
        """API paths of the vector file and its thumbnails (None where absent) and of its strength
        strip (always: asking for it renders it once)."""
        files: dict[str, str | None] = {
            kind: reverse("vector-file", args=[vector.pk, kind]) if getattr(vector, field) else None
            for kind, field in (
                ("vector", "vector"),
                ("before", "thumbnail_before"),
                ("after", "thumbnail_after"),
            )
        }
        files["strip"] = reverse("vector-strip", args=[vector.pk])
        return files


class EditVectorUploadSerializer(serializers.Serializer):
    """A vector file made elsewhere (e.g. ``partedit-engine edit``) added to the library."""

    model = serializers.IntegerField(help_text="The generator model the vector was made with.")
    file = serializers.FileField(help_text="The engine's edit-vector safetensors file.")
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    default_scale = serializers.FloatField(required=False, default=1.0)
    min_scale = serializers.FloatField(required=False, default=-2.0)
    max_scale = serializers.FloatField(required=False, default=2.0)


class EditVectorUpdateSerializer(serializers.Serializer):
    """Changeable facts of a vector (the file and its provenance never change)."""

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    default_scale = serializers.FloatField(required=False)
    min_scale = serializers.FloatField(required=False)
    max_scale = serializers.FloatField(required=False)


class TagSerializer(serializers.ModelSerializer):
    """A tag and how many vectors carry it."""

    vector_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "team", "name", "vector_count"]
        read_only_fields = fields
