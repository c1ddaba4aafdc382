"""API routes of generator models and images (mounted under /api/)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("models/", views.GeneratorModelListView.as_view(), name="model-list"),
    path("models/import/", views.ModelImportView.as_view(), name="model-import"),
    path("models/<int:pk>/", views.GeneratorModelDetailView.as_view(), name="model-detail"),
    path("models/<int:pk>/labels/", views.GeneratorModelLabelsView.as_view(), name="model-labels"),
    path("images/", views.ImageListView.as_view(), name="image-list"),
    path("images/<int:pk>/", views.ImageDetailView.as_view(), name="image-detail"),
    re_path(
        r"^images/(?P<pk>[0-9]+)/(?P<kind>original|normalized|latent|reconstruction)/$",
        views.ImageFileView.as_view(),
        name="image-file",
    ),
]
