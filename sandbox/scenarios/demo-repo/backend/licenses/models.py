import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def generate_license_key():
    """A 32-character key in groups of four, e.g. 7KQ2-M9XD-..., easy to read out on a call."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(32))
    return "-".join(raw[i : i + 4] for i in range(0, 32, 4))


class License(models.Model):
    class Plan(models.TextChoices):
        STARTER = "starter", "Starter"
        TEAM = "team", "Team"
        ENTERPRISE = "enterprise", "Enterprise"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    organization = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="licenses")
    key = models.CharField(max_length=39, unique=True, default=generate_license_key, editable=False)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.STARTER)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    seats = models.PositiveIntegerField(default=1)
    max_concurrent_sessions = models.PositiveIntegerField(default=1)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    auto_renew = models.BooleanField(default=False)
    renewal_period_days = models.PositiveIntegerField(default=365)
    renewal_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self):
        return f"{self.key} ({self.get_plan_display()})"

    @property
    def is_valid(self):
        return self.status == self.Status.ACTIVE and self.expires_at > timezone.now()


class SeatAssignment(models.Model):
    license = models.ForeignKey(License, on_delete=models.CASCADE, related_name="seat_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="license_seats")
    assigned_at = models.DateTimeField(auto_now_add=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["license", "user"], name="unique_seat_per_user"),
        ]


class Activation(models.Model):
    """One machine running the licensed product under a seat."""

    seat = models.ForeignKey(SeatAssignment, on_delete=models.CASCADE, related_name="activations")
    machine_fingerprint = models.CharField(max_length=128)
    hostname = models.CharField(max_length=255, blank=True)
    activated_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["machine_fingerprint"], name="activation_fingerprint_idx"),
        ]


class UsageEvent(models.Model):
    class Kind(models.TextChoices):
        VALIDATED = "validated", "Validated"
        ACTIVATED = "activated", "Activated"
        DEACTIVATED = "deactivated", "Deactivated"
        REJECTED = "rejected", "Rejected"

    license = models.ForeignKey(License, on_delete=models.CASCADE, related_name="usage_events")
    activation = models.ForeignKey(Activation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["license", "occurred_at"], name="usage_license_time_idx"),
        ]


class LicenseSession(models.Model):
    """A running copy of the product; counted against max_concurrent_sessions."""

    activation = models.ForeignKey(Activation, on_delete=models.CASCADE, related_name="sessions")
    token_hash = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_heartbeat_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["activation", "ended_at"], name="session_open_idx"),
        ]

    @property
    def is_open(self):
        return self.ended_at is None
