"""JSON shapes of annotation versions and segmentation branches."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers
from rest_framework.fields import empty

from .models import AnnotationVersion, SegmentationBranch


class AnnotationVersionSerializer(serializers.ModelSerializer):
    """One immutable version of an image's part mask."""

    author = serializers.CharField(source="author.username", read_only=True, default=None)
    parent_number = serializers.IntegerField(source="parent.number", read_only=True, default=None)
    done = serializers.BooleanField(source="is_done", read_only=True)
    mask_url = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationVersion
        fields = [
            "id",
            "image",
            "number",
            "parent_number",
            "author",
            "note",
            "done",
            "label_pixels",
            "created_at",
            "mask_url",
        ]
        read_only_fields = fields

    def get_mask_url(self, version: AnnotationVersion) -> str:
        """API path of the version's indexed PNG."""
        return reverse("annotation-mask", args=[version.pk])


class OptionalBooleanField(serializers.BooleanField):
    """A boolean whose absence from a form means its default (DRF's own reads a missing box as false)."""

    default_empty_html = empty


class AnnotationSaveSerializer(serializers.Serializer):
    """A new annotation version: the mask PNG and the version it was made from."""

    mask = serializers.FileField(
        help_text="PNG (mode L or P) of label indices at the image's normalized size."
    )
    base_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="Number of the version your mask was made from; omit or null for an image's first version.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    done = OptionalBooleanField(
        required=False, default=True, help_text="Finished (default); false saves a draft (e.g. an autosave)."
    )


class SegmentationBranchSerializer(serializers.ModelSerializer):
    """A trained segmentation branch and the annotation versions it was trained on."""

    trained_on: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = SegmentationBranch
        fields = [
            "id",
            "model",
            "is_active",
            "metrics",
            "config",
            "trained_on",
            "job",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields
