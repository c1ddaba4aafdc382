"""API routes of annotations, exports and segmentation branches (mounted under /api/)."""

from django.urls import path

from . import uncertainty_views, views

urlpatterns = [
    path("images/<int:pk>/annotations/", views.AnnotationListView.as_view(), name="annotation-list"),
    path(
        "images/<int:pk>/annotations/current/",
        views.CurrentAnnotationView.as_view(),
        name="annotation-current",
    ),
    path("images/<int:pk>/annotation.png", views.CurrentAnnotationPngView.as_view(), name="annotation-png"),
    path("annotations/<int:pk>/", views.AnnotationDetailView.as_view(), name="annotation-detail"),
    path("annotations/<int:pk>/mask/", views.AnnotationMaskView.as_view(), name="annotation-mask"),
    path("teams/<int:pk>/export/coco/", views.TeamCocoExportView.as_view(), name="team-coco-export"),
    path("branches/", views.BranchListView.as_view(), name="branch-list"),
    path("branches/<int:pk>/", views.BranchDetailView.as_view(), name="branch-detail"),
    path("branches/<int:pk>/activate/", views.BranchActivateView.as_view(), name="branch-activate"),
    path(
        "models/<int:pk>/uncertainty/",
        uncertainty_views.ModelUncertaintyView.as_view(),
        name="model-uncertainty",
    ),
]
