"""REST view of the active-learning ranking: a model's images, most uncertain under its branch first."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from webapp.api.filters import as_bool
from webapp.assets.models import GeneratorModel
from webapp.errors import InvalidInput
from webapp.teams.permissions import Action, get_team_object_or_404

from .models import ImageUncertainty, SegmentationBranch
from .services import active_branch
from .uncertainty import ranked_by_uncertainty


class ImageUncertaintySerializer(serializers.ModelSerializer):
    """One image's uncertainty under a branch, and whether it has been annotated since."""

    image_name = serializers.CharField(source="image.name", read_only=True)
    annotated = serializers.BooleanField(read_only=True)

    class Meta:
        model = ImageUncertainty
        fields = ["image", "image_name", "score", "branch", "job", "scored_at", "annotated"]
        read_only_fields = fields


@extend_schema(
    parameters=[
        OpenApiParameter("branch", int, description="A branch of this model (default: its active branch)."),
        OpenApiParameter("include_annotated", bool, description="Also list images annotated since scoring."),
    ]
)
class ModelUncertaintyView(generics.ListAPIView):
    """A model's scored images, most uncertain first (run a ``score_uncertainty`` job to fill it)."""

    serializer_class = ImageUncertaintySerializer

    def get_queryset(self) -> QuerySet[ImageUncertainty]:
        model = get_team_object_or_404(self.request.user, GeneratorModel, self.kwargs["pk"], Action.VIEW)
        raw_branch = self.request.query_params.get("branch")
        raw_annotated = self.request.query_params.get("include_annotated", "false")
        try:
            include_annotated = as_bool(raw_annotated)
            branch_id = int(raw_branch) if raw_branch is not None else None
        except ValueError as error:
            raise InvalidInput(
                "branch must be an integer and include_annotated true or false "
                f"(got branch={raw_branch!r}, include_annotated={raw_annotated!r}).",
                code="invalid_filter",
            ) from error
        if branch_id is None:
            branch = active_branch(model)
            if branch is None:
                raise InvalidInput(f"Model {model.name!r} has no segmentation branch yet; train one first.",
                                   code="no_branch")
        else:
            branch = SegmentationBranch.objects.filter(model=model, pk=branch_id).first()
            if branch is None:
                raise InvalidInput(
                    f"Model {model.name!r} has no branch {branch_id}.", code="not_found_in_team"
                )
        return ranked_by_uncertainty(branch, include_annotated)
