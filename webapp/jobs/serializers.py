"""JSON shapes of jobs in the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.jobs.models import Job, JobType


class JobProgressSerializer(serializers.Serializer):
    """How far a job has got: ``step`` of ``total``, and the loss at that step (null before any)."""

    step = serializers.IntegerField(source="progress_step")
    total = serializers.IntegerField(source="progress_total")
    loss = serializers.FloatField(source="progress_loss", allow_null=True)


class JobSerializer(serializers.ModelSerializer):
    """A job as clients see it; ``result`` holds the ids of what a succeeded job created."""

    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True)
    progress = JobProgressSerializer(source="*", read_only=True)
    error = serializers.CharField(source="error_message", read_only=True)
    websocket = serializers.SerializerMethodField(help_text="Path of the socket streaming this job's events.")

    class Meta:
        model = Job
        fields = [
            "id", "team", "type", "status", "parameters", "progress", "error", "result", "requested_by",
            "queue", "attempts", "cancel_requested", "created_at", "started_at", "finished_at", "websocket",
        ]
        read_only_fields = fields

    def get_websocket(self, job: Job) -> str:
        """The job's event socket path."""
        return f"/ws/jobs/{job.pk}/"


class JobCreateSerializer(serializers.Serializer):
    """A job request: which team it runs for, its type, and the type's parameters (docs/jobs.md)."""

    team = serializers.IntegerField()
    type = serializers.ChoiceField(choices=JobType.choices)
    parameters = serializers.JSONField(required=False, default=dict, help_text="The job type's parameters.")

    def validate_parameters(self, value: Any) -> dict[str, Any]:
        """Parameters are a JSON object; the job type checks its fields."""
        if not isinstance(value, dict):
            raise serializers.ValidationError("Parameters must be a JSON object.")
        return value


class JobTypesSerializer(serializers.Serializer):
    """Which job types exist and which this deployment can run."""

    available = serializers.ListField(child=serializers.CharField())
    all = serializers.ListField(child=serializers.CharField())
