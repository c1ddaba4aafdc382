"""HTTP views of the live preview."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webapp.preview.protocol import PSI_MAX, PSI_MIN, SEED_MAX, SEED_MIN


def preview_page(request: HttpRequest) -> HttpResponse:
    """The preview page: a seed field, a truncation slider and the latest frame."""
    limits = {"seed_min": SEED_MIN, "seed_max": SEED_MAX, "psi_min": PSI_MIN, "psi_max": PSI_MAX}
    return render(request, "preview/index.html", limits)
