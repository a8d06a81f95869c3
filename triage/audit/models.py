"""The audit log: one append-only row per read of patient data and per write."""
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

ACTION_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or delete an audit row."""


def validate_action(value: str) -> None:
    if not ACTION_PATTERN.match(value):
        raise ValidationError(f"Audit action {value!r} must be dotted lower-case, e.g. 'study.viewed'.")


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be updated.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what to which object, when, from where.

    ``action`` values are dotted strings (``"study.viewed"``) declared by each app as a
    ``TextChoices`` and never renamed. Rows are append-only: the model refuses updates and
    deletes, and on PostgreSQL a trigger refuses them too.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: users who acted are deactivated, never deleted, so the trail stays whole.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, validators=[validate_action], db_index=True)
    hospital = models.ForeignKey("accounts.Hospital", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["hospital", "-at"], name="audit_hospital_recent")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditLogIsAppendOnly("Audit events cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or 'system'} {self.action}"
