from django.db import models


class DecisionAction(models.TextChoices):
    """Audit actions of the decisions app; values are stable and never renamed."""

    RECORDED = "decision.recorded"
    RULE_UPDATED = "decision_rule.updated"
    PCR_RECORDED = "pcr_outcome.recorded"
    PCR_CORRECTED = "pcr_outcome.corrected"
