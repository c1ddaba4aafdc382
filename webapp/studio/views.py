"""Page views of the studio: each renders a template extending ``studio/base.html``.

The views only decide what a page shows (team, role, model); the pages' ES modules fetch
their data from the REST API and follow jobs over ``/ws/jobs/<id>/``, so the service layer
stays the one place for rules. A viewer gets the same pages without edit controls; the
server refuses their writes anyway.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy

from webapp.assets.models import GeneratorModel
from webapp.preview.protocol import PSI_MAX, PSI_MIN, SEED_MAX, SEED_MIN

from .context import StudioContext, studio_context

SIGN_IN_URL = reverse_lazy("studio:sign-in")
HOME_URL = reverse_lazy("studio:dataset")
RECOMMENDED_ANNOTATIONS = 16

studio_login_required = login_required(login_url=SIGN_IN_URL)


def render_page(request: HttpRequest, template: str, page: str, **extra: Any) -> HttpResponse:
    """Render a studio page with the team context and the navigation entry ``page`` marked current."""
    studio = extra.pop("studio", None) or studio_context(request)
    return render(request, template, {"studio": studio, "page": page, **extra})


def team_models(studio: StudioContext) -> list[GeneratorModel]:
    """The current team's generator models, active ones first."""
    if studio.team is None:
        return []
    return list(GeneratorModel.objects.filter(team=studio.team).order_by("-is_active", "name", "id"))


def chosen_model(request: HttpRequest, models: list[GeneratorModel]) -> GeneratorModel | None:
    """The model named by ``?model=`` among the team's models (404 if not one of them), else the first."""
    raw = request.GET.get("model", "").strip()
    if not raw:
        return models[0] if models else None
    for model in models:
        if raw == str(model.pk):
            return model
    raise Http404("No such generator model in this team.")


@studio_login_required
def home(request: HttpRequest) -> HttpResponse:
    """The studio's front page is the dataset."""
    return redirect(HOME_URL)


@studio_login_required
def dataset_page(request: HttpRequest) -> HttpResponse:
    """The dataset of one model: image grid, annotation status, sampling, uploads, branch training."""
    studio = studio_context(request)
    models = team_models(studio)
    return render_page(
        request,
        "studio/dataset.html",
        "dataset",
        studio=studio,
        models=models,
        model=chosen_model(request, models),
        recommended=RECOMMENDED_ANNOTATIONS,
    )


@studio_login_required
def models_page(request: HttpRequest) -> HttpResponse:
    """The team's generator models, their taxonomies and active branches; register a checkpoint."""
    return render_page(request, "studio/models.html", "models")


@studio_login_required
def jobs_page(request: HttpRequest) -> HttpResponse:
    """The team's jobs with status, progress, requester, duration, cancel and errors."""
    return render_page(request, "studio/jobs.html", "jobs")


@studio_login_required
def library_page(request: HttpRequest) -> HttpResponse:
    """The team's edit-vector library."""
    return render_page(request, "studio/library.html", "library")


@studio_login_required
def sessions_page(request: HttpRequest) -> HttpResponse:
    """The team's edit sessions."""
    return render_page(request, "studio/sessions.html", "sessions")


@studio_login_required
def sample_page(request: HttpRequest) -> HttpResponse:
    """The live preview: a seed field, a truncation slider and the latest frame."""
    limits = {"seed_min": SEED_MIN, "seed_max": SEED_MAX, "psi_min": PSI_MIN, "psi_max": PSI_MAX}
    return render_page(request, "studio/sample.html", "sample", team_optional=True, **limits)


class SignInView(auth_views.LoginView):
    """Django's sign-in form (CSRF-protected) in the studio's look."""

    template_name = "studio/sign_in.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        """Without a ``next``, signing in leads to the dataset."""
        return reverse("studio:dataset")


class SignOutView(auth_views.LogoutView):
    """Sign out (POST only, CSRF-protected), then back to the sign-in page."""

    def get_default_redirect_url(self) -> str:
        """After signing out, the sign-in page."""
        return reverse("studio:sign-in")
