"""Reads of model versions (platform metadata, no patient data) and of stored results."""
from django.db.models import QuerySet

from triage.accounts.permissions import require_platform_admin
from triage.results.models import ModelVersion, Result


def model_version_list(*, user) -> QuerySet[ModelVersion]:
    require_platform_admin(user=user)
    return ModelVersion.objects.order_by("-registered_at")


def active_model_version() -> ModelVersion | None:
    """Return the model version new analyses use (None before the first is registered)."""
    return ModelVersion.objects.filter(is_active=True).first()


def result_for_model_version(*, study_id: int, model_version: ModelVersion) -> Result | None:
    """Return the result ``model_version`` stored for the study, if any (results are keyed on both)."""
    return Result.objects.filter(study_id=study_id, model_version=model_version).first()


def current_results(*, studies: QuerySet | None = None) -> QuerySet[Result]:
    """Return the current result of each study (of ``studies`` when given): the one every page and export shows."""
    results = Result.objects.filter(is_current=True)
    return results if studies is None else results.filter(study__in=studies)


def current_result_for(*, study) -> Result | None:
    """Return the study's current AI result with its model version and quantification, or ``None``."""
    return (current_results().filter(study_id=study.pk)
            .select_related("model_version", "quantification").first())
