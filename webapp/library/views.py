"""Thin REST views over the edit-vector library."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api.files import stored_file_response
from webapp.api.filters import Filters, filter_by_params
from webapp.api.parsers import API_PARSERS, UPLOAD_PARSERS
from webapp.assets.models import GeneratorModel
from webapp.teams.permissions import Action, get_team_object_or_404, visible_to

from . import services, strips
from .models import EditVector, Tag
from .serializers import (
    EditVectorSerializer,
    EditVectorUpdateSerializer,
    EditVectorUploadSerializer,
    TagSerializer,
)

VECTOR_FILTERS: Filters = {
    "team": ("team_id", int),
    "model": ("model_id", int),
    "label": ("labels__name", str),
    "tag": ("tags__name", str.lower),
    "author": ("author__username", str),
}
FILE_FIELDS = {"vector": "vector", "before": "thumbnail_before", "after": "thumbnail_after"}


@extend_schema(
    parameters=[
        OpenApiParameter("team", int),
        OpenApiParameter("model", int),
        OpenApiParameter("label", str, description="Label name the vector edits."),
        OpenApiParameter("tag", str),
        OpenApiParameter("author", str, description="Username."),
        OpenApiParameter("q", str, description="Search in name and description."),
    ]
)
class EditVectorListView(generics.ListAPIView):
    """Your teams' library, filterable by label, tag, author and model; add a vector file (editors)."""

    serializer_class = EditVectorSerializer
    parser_classes = UPLOAD_PARSERS

    def get_queryset(self) -> QuerySet[EditVector]:
        vectors = visible_to(self.request.user, EditVector.objects.all())
        vectors = filter_by_params(vectors, self.request, VECTOR_FILTERS)
        if query := self.request.query_params.get("q", "").strip():
            vectors = vectors.filter(Q(name__icontains=query) | Q(description__icontains=query))
        return vectors.select_related("author", "session_origin").prefetch_related("tags", "labels")

    @extend_schema(request=EditVectorUploadSerializer, responses={201: EditVectorSerializer})
    def post(self, request: Request) -> Response:
        """Add a vector file; refused if it was made with another model."""
        serializer = EditVectorUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = get_team_object_or_404(request.user, GeneratorModel, data["model"], Action.MANAGE_LIBRARY)
        vector = services.create_edit_vector(
            request.user,
            model,
            data["file"].read(),
            data["name"],
            description=data["description"],
            tags=data["tags"],
            scales=(data["default_scale"], data["min_scale"], data["max_scale"]),
        )
        return Response(EditVectorSerializer(vector).data, status=status.HTTP_201_CREATED)


class EditVectorDetailView(APIView):
    """One vector; owners and editors change its description, tags and scales, or delete it."""

    parser_classes = API_PARSERS

    @extend_schema(responses=EditVectorSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """The vector."""
        vector = get_team_object_or_404(request.user, EditVector, pk, Action.VIEW)
        return Response(EditVectorSerializer(vector).data)

    @extend_schema(request=EditVectorUpdateSerializer, responses=EditVectorSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        """Change name, description, tags or scales."""
        vector = get_team_object_or_404(request.user, EditVector, pk, Action.MANAGE_LIBRARY)
        serializer = EditVectorUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.update_edit_vector(request.user, vector, **serializer.validated_data)
        return Response(EditVectorSerializer(vector).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Delete the vector (409 while edit sessions use it)."""
        vector = get_team_object_or_404(request.user, EditVector, pk, Action.MANAGE_LIBRARY)
        services.delete_edit_vector(request.user, vector)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrengthStripView(APIView):
    """The vector applied to its model's fixed sample at several scales (rendered once, then kept)."""

    @extend_schema(
        operation_id="vectors_strip_retrieve",
        responses={(200, "image/png"): OpenApiTypes.BINARY,
                   202: OpenApiResponse(description="Being rendered; ask again shortly.")},
    )
    def get(self, request: Request, pk: int) -> Response | FileResponse:
        """The strip PNG; 202 with ``{"status": "rendering", "scales"}`` while a worker renders it."""
        vector = get_team_object_or_404(request.user, EditVector, pk, Action.VIEW)
        if strips.request_strength_strip(request.user, vector):
            return stored_file_response(vector.strength_strip, f"vector-{vector.pk}-strip.png", "image/png")
        return Response({"status": "rendering", "scales": strips.strip_scales(vector)},
                        status=status.HTTP_202_ACCEPTED)


class EditVectorFileView(APIView):
    """Download a vector file or its before/after thumbnail."""

    @extend_schema(
        operation_id="vectors_file_retrieve",
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(FILE_FIELDS))],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, pk: int, kind: str) -> FileResponse:
        """The file: images inline (with their type), other files as attachments."""
        vector = get_team_object_or_404(request.user, EditVector, pk, Action.VIEW)
        stored = getattr(vector, FILE_FIELDS[kind])
        extension = stored.name.rsplit(".", 1)[-1] if stored else ""
        return stored_file_response(stored, f"vector-{vector.pk}-{kind}.{extension}")


@extend_schema(parameters=[OpenApiParameter("team", int)])
class TagListView(generics.ListAPIView):
    """Tags of your teams' libraries with their vector counts."""

    serializer_class = TagSerializer

    def get_queryset(self) -> QuerySet[Tag]:
        tags = visible_to(self.request.user, Tag.objects.all())
        tags = filter_by_params(tags, self.request, {"team": ("team_id", int)})
        return tags.annotate(vector_count=Count("vectors", distinct=True)).order_by("team_id", "name")
