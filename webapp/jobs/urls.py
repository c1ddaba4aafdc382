"""API routes of jobs (mounted under /api/)."""

from django.urls import path

from webapp.jobs import api

urlpatterns = [
    path("jobs/", api.JobListView.as_view(), name="job-list"),
    path("jobs/types/", api.JobTypesView.as_view(), name="job-types"),
    path("jobs/<int:pk>/", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", api.JobCancelView.as_view(), name="job-cancel"),
]
