"""Routes of the studio pages (mounted at the site root)."""

from __future__ import annotations

from django.urls import path

from . import annotate, session, views

app_name = "studio"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", views.SignOutView.as_view(), name="sign-out"),
    path("dataset/", views.dataset_page, name="dataset"),
    path("models/", views.models_page, name="models"),
    path("jobs/", views.jobs_page, name="jobs"),
    path("library/", views.library_page, name="library"),
    path("sessions/", views.sessions_page, name="sessions"),
    path("sample/", views.sample_page, name="sample"),
    path("images/<int:pk>/annotate/", annotate.annotate_page, name="annotate"),
    path("sessions/<int:pk>/", session.session_page, name="session"),
]
