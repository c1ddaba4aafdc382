"""JSON shapes of edit sessions and their stack entries."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from .models import EditSession, StackEntry


class StackEntrySerializer(serializers.ModelSerializer):
    """One edit of the stack."""

    mask_url = serializers.SerializerMethodField()

    class Meta:
        model = StackEntry
        fields = [
            "id",
            "position",
            "kind",
            "vector",
            "scale",
            "enabled",
            "mask_url",
            "result_vector",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_mask_url(self, entry: StackEntry) -> str | None:
        """API path of a mask edit's label map."""
        return reverse("session-entry-mask", args=[entry.session_id, entry.pk]) if entry.mask else None


class EditSessionSerializer(serializers.ModelSerializer):
    """A session with its participants, revision and ordered stack."""

    participants = serializers.SerializerMethodField()
    entries = StackEntrySerializer(many=True, read_only=True)

    def get_participants(self, session: EditSession) -> list[str]:
        """The participants' usernames in alphabetical order (a join table has no order of its own)."""
        return sorted(user.username for user in session.participants.all())

    class Meta:
        model = EditSession
        fields = [
            "id",
            "image",
            "title",
            "participants",
            "revision",
            "entries",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SessionCreateSerializer(serializers.Serializer):
    """A new session on an image."""

    image = serializers.IntegerField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EntryCreateSerializer(serializers.Serializer):
    """A new stack entry: ``vector`` + ``scale``, or a ``mask`` file (multipart) for a mask edit."""

    base_revision = serializers.IntegerField(min_value=0, help_text="The revision your change was made from.")
    op_id = serializers.CharField(max_length=64, required=False, allow_null=True, default=None,
                                  help_text="Your id of this operation; a repeat is applied once.")
    vector = serializers.IntegerField(required=False, allow_null=True, default=None)
    scale = serializers.FloatField(required=False, allow_null=True, default=None)
    mask = serializers.FileField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        """Exactly one kind of entry: a vector with a scale, or a mask."""
        has_vector = attrs["vector"] is not None
        if has_vector == (attrs["mask"] is not None):
            raise serializers.ValidationError("Give either vector and scale, or mask.")
        if has_vector and attrs["scale"] is None:
            raise serializers.ValidationError({"scale": "A vector entry needs a scale."})
        return attrs


class EntryChangeSerializer(serializers.Serializer):
    """Changes to an entry's properties: its scale (vector entries), whether it is applied, its position."""

    base_revision = serializers.IntegerField(min_value=0)
    op_id = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)
    scale = serializers.FloatField(required=False)
    enabled = serializers.BooleanField(required=False)
    position = serializers.IntegerField(required=False, min_value=0)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        """At least one property to change."""
        if not {"scale", "enabled", "position"} & set(attrs):
            raise serializers.ValidationError("Give scale, enabled or position.")
        return attrs
