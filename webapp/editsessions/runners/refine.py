"""Refine job: adapt a library vector, as applied at a session entry, to that session's image."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from webapp.assets.storage import local_copy
from webapp.editsessions.runners.edits import (
    MadeVector,
    edit_inputs,
    job_entry,
    latent_before,
    make_vector,
    store_vector,
)
from webapp.errors import InvalidInput
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


def compute(job: Job, hooks: JobHooks) -> MadeVector:
    """Self-supervised refinement starting from the vector-edited latent; the result is a new vector."""
    from editing_engine.editing import DEFAULT_REFINE, refine_edit
    from editing_engine.vectors import apply_vectors, load_vector

    inputs = edit_inputs(job)
    entry = inputs.entry
    vector, scale = entry.vector, entry.scale
    if vector is None or scale is None:
        raise InvalidInput(f"Entry {entry.pk} applies no library vector to refine.", code="wrong_entry_kind")
    ws_original = latent_before(entry, inputs.loaded)
    shape = tuple(ws_original.shape[1:])
    applied = load_vector(local_copy(vector.vector.name), inputs.loaded.weights_hash, shape)
    ws_edited = apply_vectors(ws_original, [applied], [float(scale)])
    labels = list(vector.labels.values_list("index", flat=True)) or applied.labels
    result = refine_edit(
        inputs.loaded.generator,
        inputs.branch,
        ws_original,
        ws_edited,
        labels,
        perceptual=inputs.perceptual,
        encoder=inputs.encoder,
        config=replace(
            DEFAULT_REFINE,
            steps=int(job.parameters["steps"]),
            context_labels=entry.session.image.model.context_label_indices(),
        ),
        progress=hooks.progress,
        should_cancel=hooks.should_cancel,
        preview=hooks.preview,
    )
    name = job.parameters["name"] or f"{vector.name} (refined for {entry.session.image})"
    source = {"refined_from": entry.vector_id, "scale": entry.scale}
    return make_vector(job, inputs, result, ws_original, name[:100], source)


def store(job: Job, output: MadeVector) -> dict[str, Any]:
    """Add the refined vector to the team library (as the requester)."""
    entry = job_entry(job)
    vector = store_vector(job, entry, output)
    return {"vector": vector.pk, "refined_from": entry.vector_id, "session": entry.session_id,
            "entry": entry.pk}


RUNNER = Runner(compute=compute, store=store)
