"""API routes of teams and memberships (mounted under /api/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("teams/", views.TeamListView.as_view(), name="team-list"),
    path("teams/<int:pk>/", views.TeamDetailView.as_view(), name="team-detail"),
    path("teams/<int:team_pk>/members/", views.MemberListView.as_view(), name="member-list"),
    path(
        "teams/<int:team_pk>/members/<int:user_pk>/", views.MemberDetailView.as_view(), name="member-detail"
    ),
]
