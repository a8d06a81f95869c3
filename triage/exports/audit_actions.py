from django.db import models


class ExportAction(models.TextChoices):
    """Audit actions of result exports; values are stable and never renamed."""

    DESTINATION_CREATED = "export_destination.created"
    DESTINATION_DEACTIVATED = "export_destination.deactivated"
    DESTINATION_ECHOED = "export_destination.echoed"
    SENT = "export.sent"
    FAILED = "export.failed"
    RESEND_REQUESTED = "export.resend_requested"
    LOG_VIEWED = "export.log_viewed"
