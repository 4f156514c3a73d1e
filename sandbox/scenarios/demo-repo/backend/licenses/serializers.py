from rest_framework import serializers

from .models import License, SeatAssignment


class SeatAssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = SeatAssignment
        fields = ["id", "user", "assigned_at"]


class LicenseSerializer(serializers.ModelSerializer):
    class Meta:
        model = License
        fields = [
            "id",
            "key",
            "organization",
            "plan",
            "status",
            "seats",
            "max_concurrent_sessions",
            "issued_at",
            "expires_at",
            "auto_renew",
            "renewal_period_days",
        ]
        read_only_fields = ["key", "issued_at"]
