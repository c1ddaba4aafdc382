"""Django admin for jobs: operators inspect, filter and cancel jobs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.jobs.execution import finish_job
from webapp.jobs.models import Job, JobStatus


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs are written by the pipeline only; the admin reads them and can stop them."""

    list_display = ["id", "type", "team", "requested_by", "status", "progress_step", "progress_total",
                    "attempts", "created_at", "heartbeat_at", "finished_at"]
    list_filter = ["status", "type", "queue", "team"]
    search_fields = ["id", "celery_task_id", "error_message", "requested_by__username"]
    readonly_fields = [field.name for field in Job._meta.fields]
    actions = ["mark_cancelled"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Cancel (queued or running jobs; a stuck job ends at once)")
    def mark_cancelled(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        """Set the cancel flag and end the jobs as cancelled; a live worker then stops at its next step."""
        count = 0
        for job in queryset.exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]):
            Job.objects.filter(pk=job.pk).update(cancel_requested=True)
            count += finish_job(job, JobStatus.CANCELLED)
        self.message_user(request, f"Cancelled {count} job(s).", messages.SUCCESS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        queryset: QuerySet[Job] = super().get_queryset(request)
        return queryset.select_related("team", "requested_by")
