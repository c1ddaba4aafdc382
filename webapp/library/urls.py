"""API routes of the edit-vector library (mounted under /api/)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("vectors/", views.EditVectorListView.as_view(), name="vector-list"),
    path("vectors/<int:pk>/", views.EditVectorDetailView.as_view(), name="vector-detail"),
    re_path(
        r"^vectors/(?P<pk>[0-9]+)/(?P<kind>vector|before|after)/$",
        views.EditVectorFileView.as_view(),
        name="vector-file",
    ),
    path("vectors/<int:pk>/strip/", views.StrengthStripView.as_view(), name="vector-strip"),
    path("tags/", views.TagListView.as_view(), name="tag-list"),
]
