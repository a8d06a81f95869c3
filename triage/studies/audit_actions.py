from django.db import models


class StudyAction(models.TextChoices):
    """Audit actions of the studies app; values are stable and never renamed."""

    UPLOADED = "study.uploaded"
    RECEIVED = "study.received"
    QUEUED = "study.queued"
    PROCESSING = "study.processing"
    READY = "study.ready"
    FAILED = "study.failed"
    REPROCESSED = "study.reprocessed"
    VIEWED = "study.viewed"
    LISTED = "study.listed"
