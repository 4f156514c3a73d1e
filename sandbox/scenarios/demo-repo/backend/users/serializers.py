from rest_framework import serializers

from .models import User


class UserSerializer(serializers.ModelSerializer):
    """The signed-in user as the React app sees it (keys camelCased by the renderer)."""

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "company_name", "is_email_verified", "date_joined"]
        read_only_fields = ["id", "email", "is_email_verified", "date_joined"]
