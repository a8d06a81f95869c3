from django.db import models


class ReportAction(models.TextChoices):
    """Audit actions of the reports app; values are stable and never renamed."""

    SIGNED = "report.signed"
    ADDENDUM_ADDED = "report.addendum_added"
