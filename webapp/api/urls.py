"""Every REST route under /api/, the token endpoint, the OpenAPI schema and its interactive docs."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import TokenView

# Swagger UI's page has one inline <style> block (box sizing); its script is served separately
# (the split view), so only styles get 'unsafe-inline', and only on this page.
docs_view = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", docs_view, name="api-docs"),
    path("", include("webapp.teams.urls")),
    path("", include("webapp.assets.urls")),
    path("", include("webapp.annotations.urls")),
    path("", include("webapp.library.urls")),
    path("", include("webapp.editsessions.urls")),
    path("", include("webapp.jobs.urls")),
]
