"""Hospitals, users and who may do what where."""
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Hospital(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    code = models.SlugField(max_length=32, unique=True, help_text="Short stable identifier, e.g. 'north'.")
    max_wait_minutes = models.PositiveIntegerField(
        default=60, help_text="A study waiting longer than this rises to the top of the worklist."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_platform_admin = models.BooleanField(
        default=False, help_text="Administers every hospital; sees all hospitals' data."
    )


class Role(models.TextChoices):
    RADIOLOGIST = "radiologist", "Radiologist"
    CLINICIAN = "clinician", "Clinician"
    ADMIN = "admin", "Administrator"


class Membership(models.Model):
    """A user's role at one hospital; a user may hold several roles and hospitals."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "hospital", "role"], name="one_membership_per_role"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_is_known"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.hospital}"


class ApiToken(models.Model):
    """A revocable API key, optionally limited to one hospital (DICOMweb senders).

    Only a SHA-256 of the key is stored; the key itself is shown once at creation.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    hospital = models.ForeignKey(Hospital, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=8)
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"
