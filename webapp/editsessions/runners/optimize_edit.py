"""Optimize-edit job: the W+ offset that realises a session's edited part mask, stored as a library vector."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from webapp.assets.worker_inputs import label_map
from webapp.editsessions import services as editsessions
from webapp.editsessions.runners.edits import (
    MadeVector,
    edit_inputs,
    job_entry,
    latent_before,
    make_vector,
    store_vector,
)
from webapp.jobs.models import Job
from webapp.jobs.progress import JobHooks
from webapp.jobs.runner import Runner


def compute(job: Job, hooks: JobHooks) -> MadeVector:
    """Optimise from the latent the stack gives before the mask edit towards the edited labels."""
    from editing_engine.editing import DEFAULT_EDIT, optimize_edit

    inputs = edit_inputs(job)
    ws = latent_before(inputs.entry, inputs.loaded)
    result = optimize_edit(
        inputs.loaded.generator,
        inputs.branch,
        ws,
        label_map(inputs.entry.mask.name),
        perceptual=inputs.perceptual,
        encoder=inputs.encoder,
        config=replace(
            DEFAULT_EDIT,
            steps=int(job.parameters["steps"]),
            context_labels=inputs.entry.session.image.model.context_label_indices(),
        ),
        progress=hooks.progress,
        should_cancel=hooks.should_cancel,
        preview=hooks.preview,
    )
    # Named after what the user painted, not every label of the region.
    edited = [inputs.label_names[index] for index in result.painted_labels or result.involved_labels]
    name = job.parameters["name"] or f"Edit of {', '.join(edited) or 'no label'}"
    return make_vector(job, inputs, result, ws, name[:100], {})


def store(job: Job, output: MadeVector) -> dict[str, Any]:
    """Add the vector to the team library (as the requester) and link it to its mask-edit entry."""
    entry = job_entry(job)
    vector = store_vector(job, entry, output)
    editsessions.attach_result_vector(entry, vector)
    return {"vector": vector.pk, "session": entry.session_id, "entry": entry.pk}


RUNNER = Runner(compute=compute, store=store)
