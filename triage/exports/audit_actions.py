from django.db import models


class ExportAction(models.TextChoices):
    """Audit actions of result exports; values are stable and never renamed."""

    DESTINATION_CREATED = "export_destination.created"
    DESTINATION_UPDATED = "export_destination.updated"
    DESTINATION_DEACTIVATED = "export_destination.deactivated"
    DESTINATION_DELETED = "export_destination.deleted"
    SETTINGS_CHANGED = "export_settings.changed"
    DESTINATION_ECHOED = "export_destination.echoed"
    SENT = "export.sent"
    FAILED = "export.failed"
    RESEND_REQUESTED = "export.resend_requested"
    LOG_VIEWED = "export.log_viewed"
