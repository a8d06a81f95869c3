from django.db import models


class AuditAction(models.TextChoices):
    AUDIT_VIEWED = "audit.viewed"
