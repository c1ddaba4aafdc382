"""Thin REST views over the job services: list/create, detail, cancel, available types."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api.filters import Filters, filter_by_params
from webapp.jobs import services
from webapp.jobs.models import Job, JobStatus, JobType
from webapp.jobs.registry import available_types
from webapp.jobs.serializers import JobCreateSerializer, JobSerializer, JobTypesSerializer
from webapp.teams.models import Team
from webapp.teams.permissions import Action, get_team_object_or_404

JOB_FILTERS: Filters = {"team": ("team_id", int), "status": ("status", str), "type": ("type", str)}
LIMIT_REACHED = OpenApiResponse(description="The team's GPU job limit is reached (details: limit, active).")
BUSY = OpenApiResponse(description="The same work is already queued or running (details: job).")
FINISHED = OpenApiResponse(description="The job already succeeded or failed (details: status).")


class JobListView(generics.ListCreateAPIView):
    """Jobs of your teams, newest first (``?team=``, ``?status=``, ``?type=``); request a new job."""

    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        return filter_by_params(services.jobs_for_viewer(self.request.user), self.request, JOB_FILTERS)

    @extend_schema(
        parameters=[
            OpenApiParameter("team", int),
            OpenApiParameter("status", str, enum=JobStatus.values),
            OpenApiParameter("type", str, enum=JobType.values),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """List jobs."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer, 409: BUSY, 429: LIMIT_REACHED})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Request a job; 429 when the team's GPU job limit is reached, 400 for unavailable types."""
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = get_team_object_or_404(request.user, Team, serializer.validated_data["team"], Action.VIEW)
        job = services.create_job(
            request.user, team, serializer.validated_data["type"], serializer.validated_data["parameters"]
        )
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailView(generics.RetrieveAPIView):
    """One job of your teams."""

    serializer_class = JobSerializer

    def get_object(self) -> Job:
        return services.job_for_viewer(self.request.user, self.kwargs["pk"])


class JobCancelView(APIView):
    """Cancel a job: queued jobs end at once, running ones stop at their next step."""

    @extend_schema(request=None, responses={200: JobSerializer, 409: FINISHED})
    def post(self, request: Request, pk: int) -> Response:
        """Request the cancel; the answer is the job (``cancel_requested`` true, status as it now is)."""
        job = services.request_cancel(request.user, services.job_for_viewer(request.user, pk))
        return Response(JobSerializer(job).data)


class JobTypesView(APIView):
    """The job types, and which of them this deployment can run."""

    @extend_schema(responses=JobTypesSerializer)
    def get(self, request: Request) -> Response:
        """List job types."""
        return Response({"available": available_types(), "all": list(JobType.values)})
