"""API routes of edit sessions (mounted under /api/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("sessions/", views.SessionListView.as_view(), name="session-list"),
    path("sessions/<int:pk>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("sessions/<int:pk>/join/", views.SessionJoinView.as_view(), name="session-join"),
    path("sessions/<int:pk>/entries/", views.EntryListView.as_view(), name="session-entry-list"),
    path("sessions/<int:pk>/export/", views.SessionExportView.as_view(), name="session-export"),
    path(
        "sessions/<int:pk>/entries/<int:entry_pk>/",
        views.EntryDetailView.as_view(),
        name="session-entry-detail",
    ),
    path(
        "sessions/<int:pk>/entries/<int:entry_pk>/mask/",
        views.EntryMaskView.as_view(),
        name="session-entry-mask",
    ),
]
