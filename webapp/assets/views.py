"""Thin REST views over the asset services; permissions come from ``teams.permissions``."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from webapp.annotations.services import filter_by_annotation_state, with_annotation_summary
from webapp.api.files import stored_file_response
from webapp.api.filters import Filters, as_bool, filter_by_params
from webapp.api.parsers import UPLOAD_PARSERS
from webapp.errors import PayloadTooLarge
from webapp.jobs.serializers import JobSerializer
from webapp.teams.models import Team
from webapp.teams.permissions import Action, get_team_object_or_404, visible_to

from . import model_imports, services
from .models import GeneratorModel, Image
from .serializers import (
    GeneratorModelSerializer,
    ImageSerializer,
    ImageUploadSerializer,
    ModelImportSerializer,
    TaxonomySerializer,
)

MODEL_FILTERS: Filters = {"team": ("team_id", int), "active": ("is_active", as_bool)}
IMAGE_FILTERS: Filters = {
    "team": ("team_id", int),
    "model": ("model_id", int),
    "status": ("status", str),
    "source": ("source", str),
}
FILE_TYPES = {
    "original": None,
    "normalized": "image/png",
    "latent": "application/octet-stream",
    "reconstruction": "image/png",
}


@extend_schema(
    parameters=[
        OpenApiParameter("team", int),
        OpenApiParameter("active", bool),
    ]
)
class GeneratorModelListView(generics.ListAPIView):
    """Generator models of your teams (registered by operators)."""

    serializer_class = GeneratorModelSerializer

    def get_queryset(self) -> QuerySet[GeneratorModel]:
        models = visible_to(self.request.user, GeneratorModel.objects.prefetch_related("labels"))
        return filter_by_params(models, self.request, MODEL_FILTERS)


class GeneratorModelDetailView(generics.RetrieveAPIView):
    """One generator model with its taxonomy."""

    serializer_class = GeneratorModelSerializer

    def get_object(self) -> GeneratorModel:
        return get_team_object_or_404(self.request.user, GeneratorModel, self.kwargs["pk"], Action.VIEW)


class GeneratorModelLabelsView(APIView):
    """Change a model's taxonomy: rename, recolour, flag context labels; append labels before any branch."""

    @extend_schema(request=TaxonomySerializer, responses=GeneratorModelSerializer)
    def put(self, request: Request, pk: int) -> Response:
        """Replace the taxonomy (the same number of labels or more, in index order)."""
        model = get_team_object_or_404(request.user, GeneratorModel, pk, Action.EDIT)
        serializer = TaxonomySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        labels = [
            {"name": label["name"], "colour": label["colour"], "context": label.get("is_context", False)}
            for label in serializer.validated_data["labels"]
        ]
        services.update_taxonomy(request.user, model, labels)
        model = GeneratorModel.objects.prefetch_related("labels").get(pk=model.pk)
        return Response(GeneratorModelSerializer(model).data)


class ModelImportView(APIView):
    """Register a model from an uploaded checkpoint: a worker job converts it with the safe importer."""

    parser_classes = UPLOAD_PARSERS

    @extend_schema(request=ModelImportSerializer, responses={201: JobSerializer})
    def post(self, request: Request) -> Response:
        """Store the checkpoint and queue its ``import_model`` job; follow the job for the outcome."""
        serializer = ModelImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        team = get_team_object_or_404(request.user, Team, data["team"], Action.EDIT)
        upload = data["file"]
        limit = settings.PARTEDIT_MAX_CHECKPOINT_BYTES
        if upload.size > limit:
            raise PayloadTooLarge(
                f"The checkpoint is {upload.size} bytes; the limit is {limit}.", code="file_too_large"
            )
        job = model_imports.request_model_import(
            request.user, team, upload.read(), upload.name, data["name"], data["labels"]
        )
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class ImageListView(generics.ListAPIView):
    """Images of your teams; upload a photo (owners and editors)."""

    serializer_class = ImageSerializer
    parser_classes = UPLOAD_PARSERS

    def get_queryset(self) -> QuerySet[Image]:
        images = with_annotation_summary(visible_to(self.request.user, Image.objects.all()))
        state = self.request.query_params.get("annotation", "")
        if state:
            images = filter_by_annotation_state(images, state)
        return filter_by_params(images, self.request, IMAGE_FILTERS)

    @extend_schema(
        parameters=[
            OpenApiParameter("team", int),
            OpenApiParameter("model", int),
            OpenApiParameter("status", str, enum=Image.Status.values),
            OpenApiParameter("source", str, enum=Image.Source.values),
            OpenApiParameter("annotation", str, enum=["none", "draft", "done"]),
        ]
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        """List images."""
        return self.list(request, *args, **kwargs)

    @extend_schema(request=ImageUploadSerializer, responses={201: ImageSerializer})
    def post(self, request: Request) -> Response:
        """Upload a photo; it is cropped to a square and resized to the model's resolution."""
        serializer = ImageUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = get_team_object_or_404(request.user, GeneratorModel, data["model"], Action.EDIT)
        upload = data["file"]
        if upload.size > settings.PARTEDIT_MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(
                f"The file is {upload.size} bytes; the limit is {settings.PARTEDIT_MAX_UPLOAD_BYTES}.",
                code="file_too_large",
            )
        image = services.create_uploaded_image(
            request.user,
            model,
            upload.read(),
            data["name"],
            (data["crop_x"], data["crop_y"], data["crop_size"]),
        )
        return Response(ImageSerializer(image).data, status=status.HTTP_201_CREATED)


class ImageDetailView(generics.RetrieveUpdateDestroyAPIView[Image]):
    """One image; owners and editors rename or delete it."""

    serializer_class = ImageSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self) -> Image:
        action = Action.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Action.EDIT
        return get_team_object_or_404(self.request.user, Image, self.kwargs["pk"], action)

    def perform_update(self, serializer: BaseSerializer[Image]) -> None:
        image = serializer.instance
        assert image is not None, "update() gives the serializer the image it updates"
        services.rename_image(self.request.user, image, serializer.validated_data.get("name", ""))

    def perform_destroy(self, instance: Image) -> None:
        services.delete_image(self.request.user, instance)


class ImageFileView(APIView):
    """Download one of an image's files: the original upload, the normalized PNG or the latent."""

    @extend_schema(
        operation_id="images_file_retrieve",
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(FILE_TYPES))],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, pk: int, kind: str) -> FileResponse:
        """The file: images inline (with their type), other files as attachments."""
        image = get_team_object_or_404(request.user, Image, pk, Action.VIEW)
        stored = getattr(image, kind)
        extension = stored.name.rsplit(".", 1)[-1] if stored else ""
        return stored_file_response(stored, f"image-{image.pk}-{kind}.{extension}", FILE_TYPES[kind])
