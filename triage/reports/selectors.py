"""Reads of reports. Access to a study goes through the studies app's tenancy-scoped selectors.

For pages: :func:`review_state_for` (the review panel's ``report_state``). For lists:
:func:`annotate_review_state` adds ``report_version`` and ``reviewed_at`` to a study queryset
(the worklist shows reviewed / unreviewed from them without a query per row).
"""
from dataclasses import dataclass, field
from datetime import date

from django.db.models import OuterRef, QuerySet, Subquery

from triage.accounts.models import User
from triage.accounts.permissions import SIGN_ROLES, has_role
from triage.reports.models import Report
from triage.results.models import Result
from triage.results.selectors import current_result_for, current_results
from triage.studies.models import Study


def report_history(*, study: Study) -> QuerySet[Report]:
    """Return every signed version of the study's report, oldest first."""
    return Report.objects.filter(study=study).select_related("signed_by", "ai_result__model_version").order_by("version")


def latest_report_for(*, study: Study) -> Report | None:
    return report_history(study=study).order_by("-version").first()


@dataclass(frozen=True)
class ReviewState:
    """What the review panel and the report page need to show and sign a study's report."""

    study: Study
    result: Result | None
    latest: Report | None
    history: list[Report] = field(default_factory=list)
    can_sign: bool = False

    @property
    def version(self) -> int:
        """The version the radiologist sees; sent back as ``expected_version`` when signing."""
        return self.latest.version if self.latest else 0

    @property
    def is_reviewed(self) -> bool:
        return self.latest is not None

    @property
    def is_signable(self) -> bool:
        return self.result is not None and self.study.status == Study.Status.READY

    @property
    def labels(self) -> list[str]:
        return list(self.result.model_version.class_names) if self.result else []

    @property
    def ai_label(self) -> str:
        if self.latest is not None:
            return self.latest.ai_label
        return self.result.predicted_label if self.result else ""


def review_state_for(*, study: Study, user: User | None = None) -> ReviewState:
    """Return the study's review state; ``can_sign`` says whether ``user`` may sign or add to it.

    ``study`` must already come from a tenancy-scoped selector (``access_study``/``study_get``).
    """
    history = list(report_history(study=study))
    can_sign = user is not None and has_role(user=user, hospital=study.hospital, roles=SIGN_ROLES)
    return ReviewState(study=study, result=current_result_for(study=study), latest=history[-1] if history else None,
                       history=history, can_sign=can_sign)


def annotate_review_state(queryset: QuerySet[Study]) -> QuerySet[Study]:
    """Add ``report_version`` (latest signed version, ``None`` = unreviewed), ``reviewed_at``
    (first signature time) and ``report_label`` (the latest version's radiologist label).

    Subqueries, not joins, so it composes with any other annotation without multiplying rows."""
    reports = Report.objects.filter(study=OuterRef("pk"))
    return queryset.annotate(
        report_version=Subquery(reports.order_by("-version").values("version")[:1]),
        reviewed_at=Subquery(reports.order_by("version").values("signed_at")[:1]),
        report_label=Subquery(reports.order_by("-version").values("radiologist_label")[:1]),
    )


@dataclass(frozen=True)
class FollowUpPoint:
    """One study of the patient's series at this hospital, with its current AI numbers (``None``: not analysed)."""

    study: Study
    when: date
    covid_probability: float | None
    lesion_fraction_both: float | None
    severity_total: int | None
    is_this_study: bool


def follow_up_series(*, user: User, study: Study) -> list[FollowUpPoint]:
    """Return the patient's studies at the study's hospital, oldest first, this one included.

    Linked by (0010,0020) *Patient ID* within one hospital (IDs are only unique per issuer, so never
    across hospitals). Empty when the study has no patient ID or is the patient's only study. The
    other studies' numbers are patient data shown to ``user``: they are audited as listed.
    """
    # Imported here: studies.selectors -> studies.services.* -> worklist.services -> this module.
    from triage.studies.selectors import record_studies_listed, studies_visible_to

    if not study.patient_id:
        return []
    studies = list(studies_visible_to(user=user).filter(hospital_id=study.hospital_id, patient_id=study.patient_id)
                   .order_by("study_date", "received_at", "id")[:50])
    if len(studies) < 2:
        return []
    results = {r.study_id: r for r in current_results(studies=studies).select_related("quantification")}
    points = []
    for other in studies:
        result = results.get(other.id)
        quantification = getattr(result, "quantification", None) if result else None
        points.append(FollowUpPoint(
            study=other, when=other.study_date or other.received_at.date(),
            covid_probability=result.covid_probability if result else None,
            lesion_fraction_both=quantification.lesion_fraction_both if quantification else None,
            severity_total=quantification.severity_total if quantification else None,
            is_this_study=other.pk == study.pk))
    record_studies_listed(user=user, studies=[p.study for p in points if not p.is_this_study], via="follow_up")
    return points
