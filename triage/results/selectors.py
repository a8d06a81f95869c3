"""Reads of model versions (platform metadata, no patient data)."""
from django.db.models import QuerySet

from triage.accounts.permissions import require_platform_admin
from triage.results.models import ModelVersion


def model_version_list(*, user) -> QuerySet[ModelVersion]:
    require_platform_admin(user=user)
    return ModelVersion.objects.order_by("-registered_at")
