"""Thin REST views over the team services; permissions come from ``permissions.py``."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from webapp.annotations.bundled import register_server_model

from . import services
from .models import Membership, Team
from .permissions import Action, get_team_object_or_404, visible_to
from .serializers import (
    MembershipSerializer,
    NewMemberSerializer,
    RoleChangeSerializer,
    TeamSerializer,
    UserSerializer,
)


def teams_with_role(user: Any) -> QuerySet[Team]:
    """The user's teams, each annotated with the user's ``role``."""
    role = Membership.objects.filter(team=OuterRef("pk"), user=user).values("role")[:1]
    return visible_to(user, Team.objects.all()).annotate(role=Subquery(role))


class MeView(APIView):
    """The signed-in user and their teams."""

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        """Who am I, and in which teams with which role."""
        user = request.user
        data = {"id": user.pk, "username": user.get_username(), "teams": teams_with_role(user)}
        return Response(UserSerializer(data).data)


class TeamListView(generics.ListCreateAPIView):
    """Your teams; create a team (you become its owner)."""

    serializer_class = TeamSerializer

    def get_queryset(self) -> QuerySet[Team]:
        return teams_with_role(self.request.user)

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.create_team(request.user, serializer.validated_data["name"])
        register_server_model(team)
        return Response(
            self.get_serializer(teams_with_role(request.user).get(pk=team.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class TeamDetailView(generics.RetrieveUpdateAPIView[Team]):
    """One of your teams; owners may rename it."""

    serializer_class = TeamSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Team]:
        return teams_with_role(self.request.user)

    def get_object(self) -> Team:
        action = Action.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Action.MANAGE_MEMBERS
        return get_team_object_or_404(self.request.user, self.get_queryset(), self.kwargs["pk"], action)

    def perform_update(self, serializer: BaseSerializer[Team]) -> None:
        team = serializer.instance
        assert team is not None, "update() gives the serializer the team it updates"
        services.rename_team(self.request.user, team, serializer.validated_data.get("name", ""))


class MemberListView(generics.ListCreateAPIView):
    """A team's members; owners add members by username."""

    serializer_class = MembershipSerializer

    def get_team(self, action: Action) -> Team:
        return get_team_object_or_404(self.request.user, Team, self.kwargs["team_pk"], action)

    def get_queryset(self) -> QuerySet[Membership]:
        team = self.get_team(Action.VIEW)
        return team.memberships.select_related("user")

    @extend_schema(request=NewMemberSerializer, responses={201: MembershipSerializer})
    def post(self, request: Request, team_pk: int) -> Response:
        """Add a member."""
        team = self.get_team(Action.MANAGE_MEMBERS)
        serializer = NewMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.add_member(request.user, team, **serializer.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    """Change a member's role (owners) or remove a member (owners, or yourself to leave)."""

    @staticmethod
    def get_membership(request: Request, team_pk: int, user_pk: int) -> Membership:
        """The membership of user ``user_pk`` in team ``team_pk``, if the requester can see the team."""
        team = get_team_object_or_404(request.user, Team, team_pk, Action.VIEW)
        # user__pk, not user_id: Django turns an out-of-range pk into an empty result, not an overflow.
        membership = team.memberships.select_related("user", "team").filter(user__pk=user_pk).first()
        if membership is None:
            raise Http404("No such member.")
        return membership

    @extend_schema(request=RoleChangeSerializer, responses=MembershipSerializer)
    def patch(self, request: Request, team_pk: int, user_pk: int) -> Response:
        """Give a member a new role."""
        membership = self.get_membership(request, team_pk, user_pk)
        serializer = RoleChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.change_role(request.user, membership, serializer.validated_data["role"])
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, team_pk: int, user_pk: int) -> Response:
        """Remove a member, or leave the team."""
        services.remove_member(request.user, self.get_membership(request, team_pk, user_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
