"""What the optimize-edit and refine jobs share: their inputs, start latent and the vector they make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webapp.annotations.models import SegmentationBranch
from webapp.annotations.worker_inputs import registered_branch
from webapp.assets.storage import local_copy
from webapp.assets.worker_inputs import checked_model, image_latent, model_encoder, perceptual_distance
from webapp.editsessions.models import StackEntry
from webapp.editsessions.vectors import add_session_vector
from webapp.errors import InvalidInput
from webapp.jobs.models import Job

if TYPE_CHECKING:
    import torch

    from editing_engine.checkpoints import LoadedModel
    from editing_engine.editing import EditResult
    from webapp.library.models import EditVector


@dataclass
class EditInputs:
    """The engine objects an edit job runs with."""

    entry: StackEntry
    loaded: LoadedModel
    branch: Any
    perceptual: Any
    encoder: Any
    label_names: list[str]


@dataclass(frozen=True)
class MadeVector:
    """A vector file made by a job, with what the library records beside it."""

    data: bytes
    name: str
    labels: list[int]
    loss_curve: list[float]
    before_png: bytes
    after_png: bytes


def job_entry(job: Job) -> StackEntry:
    """The session entry the job works from; a clear error when it was removed meanwhile."""
    entry = (StackEntry.objects.select_related("session__image__model", "vector")
             .filter(pk=job.parameters["entry"]).first())
    if entry is None:
        raise InvalidInput("The edit-session entry this job works from was removed.", code="entry_removed")
    return entry


def edit_inputs(job: Job) -> EditInputs:
    """Load the entry, the checked generator, the branch chosen at request time, encoder and loss."""
    entry = job_entry(job)
    model = entry.session.image.model
    loaded = checked_model(model)
    record = SegmentationBranch.objects.filter(pk=job.parameters["branch"]).first()
    if record is None:
        raise InvalidInput("The segmentation branch chosen for this job was deleted.", code="no_branch")
    return EditInputs(
        entry=entry,
        loaded=loaded,
        branch=registered_branch(record, loaded),
        perceptual=perceptual_distance(loaded),
        encoder=model_encoder(model, loaded),
        label_names=list(model.labels.order_by("index").values_list("name", flat=True)),
    )


def make_vector(job: Job, inputs: EditInputs, result: EditResult, before: torch.Tensor, name: str,
                source: dict[str, Any]) -> MadeVector:
    """Package an edit result as vector file bytes plus before/after thumbnails and its loss curve."""
    from editing_engine.jobs import package_vector

    entry = inputs.entry
    full_source = {"image": entry.session.image_id, "session": entry.session_id, "entry": entry.pk,
                   "job": job.pk, **source}
    packaged = package_vector(inputs.loaded, result, before, name=name,
                              model_id=str(entry.session.image.model_id), label_names=inputs.label_names,
                              source=full_source)
    return MadeVector(data=packaged.data, name=name, labels=packaged.labels, loss_curve=packaged.loss_curve,
                      before_png=packaged.before_png, after_png=packaged.after_png)


def store_vector(job: Job, entry: StackEntry, output: MadeVector) -> EditVector:
    """Add a job's vector to the team library (as the requester), sourced from the entry's session."""
    return add_session_vector(
        job.requested_by,
        entry.session,
        output.data,
        output.name,
        label_indices=output.labels,
        loss_curve=output.loss_curve,
        thumbnails=(output.before_png, output.after_png),
        job=job,
    )


def latent_before(entry: StackEntry, loaded: LoadedModel) -> torch.Tensor:
    """The session image's latent with the stack entries before ``entry`` applied (vectors at their scales).

    Mask edits count through the vector optimised from them, at scale 1; a mask edit without a
    vector yet changes nothing.
    """
    from editing_engine.vectors import apply_vectors, load_vector

    ws = image_latent(entry.session.image, loaded)
    earlier = entry.session.entries.filter(position__lt=entry.position)
    vectors, scales = [], []
    for previous in earlier.select_related("vector", "result_vector"):
        if previous.vector is not None:
            vector, scale = previous.vector, float(previous.scale or 0.0)
        elif previous.result_vector is not None:
            vector, scale = previous.result_vector, 1.0
        else:
            continue
        shape = (ws.shape[1], ws.shape[2])
        vectors.append(load_vector(local_copy(vector.vector.name), loaded.weights_hash, shape))
        scales.append(scale)
    return apply_vectors(ws, vectors, scales) if vectors else ws
