"""The one writer of worklist rows: copy a study's worklist columns and bump its hospital's version.

:func:`refresh_worklist_entry` runs on :data:`triage.core.signals.study_changed`, which the
studies, results and reports services send inside the transaction of every change to what
the worklist shows (those apps never import this one). It is idempotent and cheap (a few
primary-key reads and one upsert), so calling it too often is harmless.
:func:`sync_worklist_entries` (beat, every minute) is the safety net for a missed call: it
refreshes rows that are missing or older than their study's status, result or signature.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from triage.reports.models import Report
from triage.reports.selectors import annotate_review_state
from triage.results.models import Quantification, Result
from triage.results.selectors import current_results
from triage.studies.models import Study
from triage.studies.selectors import stack_gaps_for
from triage.worklist.models import WorklistEntry, WorklistVersion

NOT_APPLICABLE_LABEL = "not applicable"  # predicted_label of a study outside the model's validated domain

if TYPE_CHECKING:
    from django.db.models import QuerySet


def _review_state(*, study: Study) -> tuple[datetime | None, str | None]:
    """Return (first signature time, latest signed label) from the reports app's review-state annotation."""
    return annotate_review_state(Study.objects.filter(pk=study.pk)).values_list("reviewed_at", "report_label")[0]


def bump_worklist_version(*, hospital_id: int) -> None:
    """Tell polling worklist pages of this hospital that something changed."""
    if not WorklistVersion.objects.filter(hospital_id=hospital_id).update(version=F("version") + 1):
        WorklistVersion.objects.get_or_create(hospital_id=hospital_id, defaults={"version": 1})


@transaction.atomic
def refresh_worklist_entry(*, study: Study) -> WorklistEntry:
    """Re-copy the worklist columns of ``study`` (status, current result, review) into its row.

    Reads the study again from the database, so a caller holding a stale instance (e.g. after a
    conditional ``update()``) gets the committed state. Creates the row when missing.
    """
    study = Study.objects.only("id", "hospital_id", "status", "received_at", "accession_number",
                               "patient_id", "selected_series_id").get(pk=study.pk)
    result = current_results(studies=[study]).only("id", "covid_probability", "predicted_label", "applicable",
                                                   "not_applicable_reasons").first()
    # A study outside the model's domain has no meaningful probability: it waits in time order.
    scored = result if result is not None and result.applicable else None
    quantification = None
    if result is not None:
        quantification = (Quantification.objects.filter(result_id=result.id)
                          .only("lesion_fraction_both", "severity_total").first())
    reviewed_at, radiologist_label = _review_state(study=study)
    entry, _ = WorklistEntry.objects.update_or_create(
        study_id=study.id,
        defaults={
            "hospital_id": study.hospital_id,
            "status": study.status,
            "received_at": study.received_at,
            "accession_number": study.accession_number,
            "patient_id": study.patient_id,
            "covid_probability": scored.covid_probability if scored else None,
            "sort_probability": scored.covid_probability if scored else -1.0,
            "predicted_label": scored.predicted_label if scored else (NOT_APPLICABLE_LABEL if result else ""),
            "not_applicable_reason": "; ".join(result.not_applicable_reasons)[:500] if result and not scored else "",
            "lesion_fraction_both": quantification.lesion_fraction_both if quantification else None,
            "severity_total": quantification.severity_total if quantification else None,
            "reviewed": reviewed_at is not None,
            "reviewed_at": reviewed_at,
            "radiologist_label": radiologist_label or "",
            "missing_slices": sum(gap.missing for gap in stack_gaps_for(study=study)),
        },
    )
    bump_worklist_version(hospital_id=study.hospital_id)
    return entry


def refresh_worklist_entries(*, studies: Iterable[Study]) -> int:
    """Refresh many studies (backfill, repair); return how many rows were written."""
    count = 0
    for study in studies:
        refresh_worklist_entry(study=study)
        count += 1
    return count


SYNC_BATCH = 500


def stale_worklist_studies() -> "QuerySet[Study]":
    """Studies whose worklist row is missing or older than their status, newest result or signature."""
    updated = OuterRef("entry_updated_at")
    newer_result = Result.objects.filter(study_id=OuterRef("pk"), is_current=True, created_at__gt=updated)  # not a shadow one
    newer_report = Report.objects.filter(study_id=OuterRef("pk"), signed_at__gt=updated)
    return Study.objects.annotate(entry_updated_at=F("worklist_entry__updated_at")).filter(
        Q(entry_updated_at__isnull=True) | Q(status_changed_at__gt=F("entry_updated_at"))
        | Exists(newer_result) | Exists(newer_report)
    ).order_by("pk")


def sync_worklist_entries(*, limit: int = SYNC_BATCH) -> int:
    """Refresh up to ``limit`` stale worklist rows; return how many (0 when all are current)."""
    return refresh_worklist_entries(studies=list(stale_worklist_studies().only("pk")[:limit]))
