"""JSON shapes of teams and memberships."""

from __future__ import annotations

from rest_framework import serializers

from .models import Membership, Role, Team


class TeamSerializer(serializers.ModelSerializer):
    """A team, with the requesting user's role in it."""

    role = serializers.CharField(read_only=True, help_text="Your role in this team.")

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "created_at", "role"]
        read_only_fields = ["id", "slug", "created_at", "role"]


class MembershipSerializer(serializers.ModelSerializer):
    """A member of a team and their role."""

    user_id = serializers.IntegerField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "created_at"]
        read_only_fields = ["user_id", "username", "created_at"]


class NewMemberSerializer(serializers.Serializer):
    """Who to add to a team, with which role."""

    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class RoleChangeSerializer(serializers.Serializer):
    """A member's new role."""

    role = serializers.ChoiceField(choices=Role.choices)


class UserSerializer(serializers.Serializer):
    """The signed-in user."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    teams = TeamSerializer(many=True)
