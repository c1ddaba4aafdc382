"""Thin REST views over edit sessions (live WebSocket editing calls the same services)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api.files import stored_file_response
from webapp.api.filters import Filters, filter_by_params
from webapp.api.parsers import API_PARSERS, UPLOAD_PARSERS
from webapp.assets.models import Image
from webapp.errors import Conflict, InvalidInput
from webapp.library.models import EditVector
from webapp.teams.permissions import Action, get_team_object_or_404, visible_to

from . import services
from .composite import composite_edit
from .models import EditSession, StackEntry
from .serializers import (
    EditSessionSerializer,
    EntryChangeSerializer,
    EntryCreateSerializer,
    SessionCreateSerializer,
)

SESSION_FILTERS: Filters = {"image": ("image_id", int), "team": ("image__team_id", int)}
STALE = OpenApiResponse(description="base_revision is stale; details.session is the current session.")


def _session_response(session: EditSession, code: int = status.HTTP_200_OK) -> Response:
    """The session, freshly read, as the response body."""
    session = EditSession.objects.prefetch_related("entries", "participants").get(pk=session.pk)
    return Response(EditSessionSerializer(session).data, status=code)


def _conflict(stale: services.StaleRevision) -> Conflict:
    """A stale-revision refusal as a 409 that carries the current session."""
    session = EditSessionSerializer(EditSession.objects.get(pk=stale.session.pk)).data
    return Conflict(stale.message, code=stale.code, details={"session": session})


def _entry(request: Request, pk: int, entry_pk: int, action: Action) -> StackEntry:
    """A stack entry of session ``pk``, checked for ``action``."""
    session = get_team_object_or_404(request.user, EditSession, pk, action)
    entry = (
        session.entries.select_related("session__image__model", "vector__model").filter(pk=entry_pk).first()
    )
    if entry is None:
        raise Http404("No such stack entry.")
    return entry


@extend_schema(parameters=[OpenApiParameter("image", int), OpenApiParameter("team", int)])
class SessionListView(generics.ListAPIView):
    """Edit sessions of your teams' images; open one (owners and editors)."""

    serializer_class = EditSessionSerializer

    def get_queryset(self) -> QuerySet[EditSession]:
        sessions = visible_to(
            self.request.user, EditSession.objects.prefetch_related("entries", "participants")
        )
        return filter_by_params(sessions, self.request, SESSION_FILTERS)

    @extend_schema(request=SessionCreateSerializer, responses={201: EditSessionSerializer})
    def post(self, request: Request) -> Response:
        """Open a session on an image."""
        serializer = SessionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = get_team_object_or_404(request.user, Image, serializer.validated_data["image"], Action.EDIT)
        session = services.create_session(request.user, image, serializer.validated_data["title"])
        return _session_response(session, status.HTTP_201_CREATED)


class SessionDetailView(APIView):
    """One session with its stack; owners and editors delete it."""

    @extend_schema(responses=EditSessionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """The session."""
        return _session_response(get_team_object_or_404(request.user, EditSession, pk, Action.VIEW))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Delete the session."""
        services.delete_session(
            request.user, get_team_object_or_404(request.user, EditSession, pk, Action.EDIT)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionJoinView(APIView):
    """Take part in (or watch) a session."""

    @extend_schema(request=None, responses=EditSessionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Join; any team member may."""
        session = get_team_object_or_404(request.user, EditSession, pk, Action.VIEW)
        return _session_response(services.join_session(request.user, session))


class EntryListView(APIView):
    """Push an edit onto a session's stack (owners and editors)."""

    parser_classes = API_PARSERS

    @extend_schema(request=EntryCreateSerializer, responses={201: EditSessionSerializer, 409: STALE})
    def post(self, request: Request, pk: int) -> Response:
        """A vector at a scale (JSON), or an edited mask (multipart); 409 if base_revision is stale."""
        session = get_team_object_or_404(request.user, EditSession, pk, Action.EDIT)
        serializer = EntryCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if data["vector"] is not None:
                vector = get_team_object_or_404(request.user, EditVector, data["vector"], Action.VIEW)
                services.add_vector_entry(request.user, session, data["base_revision"], vector, data["scale"],
                                          op_id=data["op_id"])
            else:
                services.add_mask_edit_entry(
                    request.user, session, data["base_revision"], data["mask"].read(), op_id=data["op_id"]
                )
        except services.StaleRevision as stale:
            raise _conflict(stale) from stale
        return _session_response(session, status.HTTP_201_CREATED)


class EntryDetailView(APIView):
    """Change an entry's scale, enabled flag or position, or remove it (owners and editors)."""

    @extend_schema(request=EntryChangeSerializer, responses={200: EditSessionSerializer})
    def patch(self, request: Request, pk: int, entry_pk: int) -> Response:
        """Set the scale, enabled flag and/or position (last writer wins per property)."""
        entry = _entry(request, pk, entry_pk, Action.EDIT)
        serializer = EntryChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        session, base, op_id = entry.session, data["base_revision"], data["op_id"]
        changes = [
            ("set_scale", {"scale": data.get("scale")}),
            ("set_enabled", {"enabled": data.get("enabled")}),
            ("move", {"position": data.get("position")}),
        ]
        for number, (kind, fields) in enumerate(changes):
            if next(iter(fields.values())) is None:
                continue
            operation = services.StackOperationRequest(
                kind, base, f"{op_id}.{number}" if op_id else None, entry_id=entry.pk, **fields  # type: ignore[arg-type]
            )
            session = services.apply_stack_operation(request.user, session, operation).session
        return _session_response(session)

    @extend_schema(
        parameters=[OpenApiParameter("base_revision", int, required=True)],
        responses={200: EditSessionSerializer, 409: STALE},
    )
    def delete(self, request: Request, pk: int, entry_pk: int) -> Response:
        """Remove the entry; ``?base_revision=N`` is required."""
        entry = _entry(request, pk, entry_pk, Action.EDIT)
        try:
            base_revision = int(request.query_params["base_revision"])
        except (KeyError, ValueError) as error:
            raise InvalidInput(
                "Give ?base_revision=N (the revision you are removing from).", code="invalid_revision"
            ) from error
        return _session_response(services.remove_entry(request.user, entry, base_revision))


class SessionExportView(APIView):
    """The session's edited image blended into the full-resolution original photo (uploads only)."""

    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {"edited": {"type": "string",
                                                                                      "format": "binary"}}}},
        responses={(200, "image/png"): OpenApiTypes.BINARY},
    )
    def post(self, request: Request, pk: int) -> HttpResponse:
        """``edited``: the frame the studio shows (PNG at the model's resolution); answers the full photo."""
        session = get_team_object_or_404(request.user, EditSession.objects.select_related("image__model"), pk,
                                         Action.VIEW)
        upload = request.FILES.get("edited")
        if upload is None:
            raise InvalidInput("Send the edited image as the file field 'edited'.", code="invalid")
        png = composite_edit(session.image, upload.read())
        response = HttpResponse(png, content_type="image/png")
        response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-full.png"'
        return response


class EntryMaskView(APIView):
    """A mask edit's label map (indexed PNG)."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int, entry_pk: int) -> FileResponse:
        """The PNG."""
        entry = _entry(request, pk, entry_pk, Action.VIEW)
        return stored_file_response(entry.mask, f"session-{pk}-entry-{entry.pk}-mask.png", "image/png")
