from django.db import models


class MonitoringAction(models.TextChoices):
    """Audit actions of the monitoring app; values are stable and never renamed."""

    THRESHOLD_UPDATED = "monitoring.threshold_updated"
    PCR_IMPORTED = "monitoring.pcr_imported"
    METRICS_EXPORTED = "monitoring.metrics_exported"
    RESEARCH_EXPORTED = "monitoring.research_exported"
    TRAINING_SET_EXPORTED = "monitoring.training_set_exported"
    CANDIDATE_COMPARED = "monitoring.candidate_compared"
    FHIR_EXPORTED = "study.fhir_exported"
