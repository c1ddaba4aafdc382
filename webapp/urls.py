"""HTTP routes of the project; each app contributes its own ``urls`` module."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("webapp.api.urls")),
    path("", include("webapp.studio.urls")),
]
