"""HTTP routes of the project; each app contributes its own ``urls`` module."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("webapp.api.urls")),
    path("", include("webapp.studio.urls")),
]

# A request that finds the database connection pool exhausted gets 503 `database_busy`, not a 500.
handler500 = "webapp.api.exceptions.server_error"
