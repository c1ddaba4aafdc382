"""Thin REST views over annotation versions, exports and segmentation branches."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api.files import stored_file_response
from webapp.api.filters import Filters, as_bool, filter_by_params
from webapp.api.parsers import UPLOAD_PARSERS
from webapp.assets.models import Image
from webapp.errors import Conflict, PayloadTooLarge
from webapp.teams.models import Team
from webapp.teams.permissions import Action, get_team_object_or_404, visible_to

from . import services
from .export import team_coco_zip
from .models import AnnotationVersion, SegmentationBranch
from .serializers import (
    AnnotationSaveSerializer,
    AnnotationVersionSerializer,
    SegmentationBranchSerializer,
)

BRANCH_FILTERS: Filters = {"model": ("model_id", int), "active": ("is_active", as_bool)}


class AnnotationListView(generics.ListAPIView):
    """An image's annotation versions, newest first; save a new version (annotators and up)."""

    serializer_class = AnnotationVersionSerializer
    parser_classes = UPLOAD_PARSERS

    def get_queryset(self) -> QuerySet[AnnotationVersion]:
        image = get_team_object_or_404(self.request.user, Image, self.kwargs["pk"], Action.VIEW)
        return image.annotation_versions.select_related("author", "parent").order_by("-number")

    @extend_schema(
        request=AnnotationSaveSerializer,
        responses={
            201: AnnotationVersionSerializer,
            409: OpenApiResponse(
                description="The base version is stale; details.current is the current version."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        """Save a new version made from ``base_version``; 409 with the current version if that is stale."""
        image = get_team_object_or_404(request.user, Image, pk, Action.ANNOTATE)
        serializer = AnnotationSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["mask"].size > settings.PARTEDIT_MAX_UPLOAD_BYTES:
            raise PayloadTooLarge("The mask file is too large.", code="mask_too_large")
        try:
            version = services.save_annotation_version(
                request.user, image, data["mask"].read(), data["base_version"], data["note"], data["done"]
            )
        except services.StaleVersion as stale:
            current = AnnotationVersionSerializer(stale.current).data if stale.current else None
            raise Conflict(stale.message, code=stale.code, details={"current": current}) from stale
        return Response(AnnotationVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class CurrentAnnotationView(APIView):
    """The current (latest) annotation version of an image."""

    @extend_schema(responses=AnnotationVersionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """404 while the image has no annotation."""
        image = get_team_object_or_404(request.user, Image, pk, Action.VIEW)
        version = services.current_version(image)
        if version is None:
            raise Http404("This image has no annotation yet.")
        return Response(AnnotationVersionSerializer(version).data)


class CurrentAnnotationPngView(APIView):
    """Export: the image's current annotation as an indexed PNG (values are label indices)."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        """The indexed PNG, palette = the taxonomy's display colours."""
        image = get_team_object_or_404(request.user, Image, pk, Action.VIEW)
        version = services.current_version(image)
        if version is None:
            raise Http404("This image has no annotation yet.")
        return stored_file_response(
            version.mask, f"image-{image.pk}-annotation-v{version.number}.png", "image/png"
        )


class AnnotationDetailView(generics.RetrieveAPIView):
    """One annotation version (older versions stay retrievable)."""

    serializer_class = AnnotationVersionSerializer

    def get_object(self) -> AnnotationVersion:
        return get_team_object_or_404(self.request.user, AnnotationVersion, self.kwargs["pk"], Action.VIEW)


class AnnotationMaskView(APIView):
    """One annotation version's indexed PNG."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        """The mask file."""
        version = get_team_object_or_404(request.user, AnnotationVersion, pk, Action.VIEW)
        name = f"image-{version.image_id}-annotation-v{version.number}.png"
        return stored_file_response(version.mask, name, "image/png")


class TeamCocoExportView(APIView):
    """Export: the team's current annotations as COCO (RLE) with images, masks and originals, zipped."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        """The zip: annotations.json, images/, masks/, originals/."""
        team = get_team_object_or_404(request.user, Team, pk, Action.VIEW)
        return FileResponse(
            team_coco_zip(team),
            as_attachment=True,
            filename=f"{team.slug}-coco.zip",
            content_type="application/zip",
        )


@extend_schema(parameters=[OpenApiParameter("model", int), OpenApiParameter("active", bool)])
class BranchListView(generics.ListAPIView):
    """Segmentation branches of your teams' models (created by training jobs)."""

    serializer_class = SegmentationBranchSerializer

    def get_queryset(self) -> QuerySet[SegmentationBranch]:
        branches = visible_to(self.request.user, SegmentationBranch.objects.prefetch_related("trained_on"))
        return filter_by_params(branches, self.request, BRANCH_FILTERS)


class BranchDetailView(generics.RetrieveAPIView):
    """One segmentation branch with its metrics."""

    serializer_class = SegmentationBranchSerializer

    def get_object(self) -> SegmentationBranch:
        return get_team_object_or_404(self.request.user, SegmentationBranch, self.kwargs["pk"], Action.VIEW)


class BranchActivateView(APIView):
    """Make a branch its model's active one (owners and editors)."""

    @extend_schema(request=None, responses=SegmentationBranchSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Activate; the model's previously active branch is deactivated."""
        branch = get_team_object_or_404(request.user, SegmentationBranch, pk, Action.EDIT)
        services.activate_segmentation_branch(request.user, branch)
        return Response(SegmentationBranchSerializer(branch).data)
