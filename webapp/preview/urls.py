"""HTTP routes of the live preview."""

from __future__ import annotations

from django.urls import path

from webapp.preview.views import preview_page

app_name = "preview"

urlpatterns = [
    path("", preview_page, name="page"),
]
