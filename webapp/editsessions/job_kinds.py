"""The job kinds of the edit sessions app: optimising a mask edit, refining an applied vector.

Both start from one stack entry of a session (``start_session_job`` requests them) and need
the model's active branch, chosen when the job is requested. ``EditSessionsConfig.ready()``
registers ``KINDS``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.annotations.services import active_branch
from webapp.editsessions.models import StackEntry
from webapp.errors import Conflict, InvalidInput
from webapp.jobs.models import JobType
from webapp.jobs.parameters import active_jobs_on, team_object, validated
from webapp.jobs.registry import GPU_QUEUE, JobKind
from webapp.teams.models import Team
from webapp.teams.permissions import Action

MAX_EDIT_STEPS = 1000


class EditParameters(serializers.Serializer):
    """Optimise or refine from one stack entry of an edit session."""

    entry = serializers.IntegerField()
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    steps = serializers.IntegerField(min_value=1, max_value=MAX_EDIT_STEPS, required=False)


def edit_source(team: Team, data: dict[str, Any], kind: str) -> tuple[StackEntry, int]:
    """The stack entry an edit job starts from (of ``kind``) and the active branch of its model."""
    entry = team_object(StackEntry, team, data["entry"], "edit-session entry")
    if entry.kind != kind:
        raise InvalidInput(f"Entry {entry.pk} is not a {StackEntry.Kind(kind).label.lower()} entry.",
                           code="wrong_entry_kind")
    image = entry.session.image
    if not image.latent:
        raise InvalidInput(f"Image {image.pk} has no latent yet; embed it first.", code="no_latent")
    branch = active_branch(image.model)
    if branch is None:
        raise InvalidInput(f"Model {image.model.name!r} has no segmentation branch yet; train one first.",
                           code="no_branch")
    return entry, branch.pk


def prepare_optimize_edit(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate an edit optimisation: a mask-edit entry without a vector yet and not being optimised."""
    data = validated(EditParameters, raw)
    entry, branch = edit_source(team, data, StackEntry.Kind.MASK_EDIT)
    if entry.result_vector_id is not None:
        raise Conflict(f"Entry {entry.pk} already has its vector ({entry.result_vector_id}).",
                       code="already_optimized", details={"vector": entry.result_vector_id})
    busy = active_jobs_on(team, JobType.OPTIMIZE_EDIT, "entry", entry.pk)
    if busy:
        raise Conflict(f"Entry {entry.pk} is already being optimised by job {busy[0]}.",
                       code="already_running", details={"job": busy[0]})
    return {"entry": entry.pk, "branch": branch, "name": data["name"], "steps": data.get("steps", 30)}


def prepare_refine(user: Any, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a refinement of a library vector as applied at one vector entry of a session."""
    data = validated(EditParameters, raw)
    entry, branch = edit_source(team, data, StackEntry.Kind.VECTOR)
    return {"entry": entry.pk, "branch": branch, "name": data["name"], "steps": data.get("steps", 10)}


KINDS = (
    JobKind(JobType.OPTIMIZE_EDIT, GPU_QUEUE, Action.MANAGE_LIBRARY, prepare_optimize_edit,
            "webapp.editsessions.runners.optimize_edit"),
    JobKind(JobType.REFINE, GPU_QUEUE, Action.MANAGE_LIBRARY, prepare_refine,
            "webapp.editsessions.runners.refine"),
)
