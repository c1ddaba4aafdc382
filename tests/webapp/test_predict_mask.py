"""The predict-mask job: the active branch's labels and disagreement for one image, checked requests."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied
from PIL import Image as PILImage

from webapp.assets.services import create_uploaded_image
from webapp.errors import InvalidInput
from webapp.jobs import services
from webapp.jobs.models import Job, JobType

from .test_uncertainty import lab, mask_of, run, train

__all__ = ["lab"]  # the fixture, shared with the uncertainty tests

pytestmark = pytest.mark.django_db


def decoded(text: str) -> np.ndarray:
    """A base64 PNG of the result as its uint8 values."""
    with PILImage.open(io.BytesIO(base64.b64decode(text))) as image:
        assert image.mode == "L"
        return np.asarray(image)


def test_an_annotator_predicts_the_branch_labels_and_disagreement(lab: dict[str, Any]) -> None:
    import torch

    from editing_engine.segmentation import segment
    from webapp.annotations.worker_inputs import registered_branch
    from webapp.assets.worker_inputs import checked_model, image_latent

    branch = train(lab)
    image = lab["images"][3]
    job = run(lab["annotator"], lab["team"], JobType.PREDICT_MASK, {"image": image.pk})

    assert job.status == "succeeded", job.error_message
    assert (job.result["image"], job.result["branch"]) == (image.pk, branch.pk)
    loaded = checked_model(lab["model"])
    with torch.no_grad():
        expected = segment(loaded.generator, registered_branch(branch, loaded), image_latent(image, loaded))
    labels = decoded(job.result["labels_png"])
    np.testing.assert_array_equal(labels, expected.labels[0].numpy())
    uncertainty = decoded(job.result["uncertainty_png"])
    assert uncertainty.shape == labels.shape == (lab["model"].resolution,) * 2
    scaled = np.clip(expected.uncertainty[0].numpy() / np.log(2), 0, 1) * 255
    assert np.abs(uncertainty.astype(float) - scaled).max() <= 0.5 + 1e-3  # rounding to integers
    mean = float(np.clip(scaled / 255, 0, 1).mean())
    assert job.result["mean_uncertainty"] == pytest.approx(mean, abs=1e-6)


def test_prediction_requests_are_checked(lab: dict[str, Any]) -> None:
    image = lab["images"][0]

    def refused(parameters: dict[str, Any]) -> InvalidInput:
        with pytest.raises(InvalidInput) as error:
            services.create_job(lab["annotator"], lab["team"], JobType.PREDICT_MASK, parameters)
        return error.value

    no_branch = refused({"image": image.pk})
    train(lab)
    upload = create_uploaded_image(lab["editor"], lab["model"], mask_of(image), "no latent")
    no_latent = refused({"image": upload.pk})
    unknown = refused({"image": 99999})
    malformed = refused({})

    assert [e.code for e in (no_branch, no_latent, unknown, malformed)] == [
        "no_branch", "no_latent", "not_found_in_team", "invalid_parameters"]
    with pytest.raises(PermissionDenied):
        services.create_job(lab["viewer"], lab["team"], JobType.PREDICT_MASK, {"image": image.pk})
    assert not Job.objects.filter(type=JobType.PREDICT_MASK).exists()
