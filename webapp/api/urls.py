"""Every REST route under /api/, the token endpoint, the OpenAPI schema and its interactive docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .views import TokenView

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("webapp.teams.urls")),
    path("", include("webapp.assets.urls")),
    path("", include("webapp.annotations.urls")),
    path("", include("webapp.library.urls")),
    path("", include("webapp.editsessions.urls")),
    path("", include("webapp.jobs.urls")),
]
