"""Reads of reports. Access to a study goes through the studies app's tenancy-scoped selectors.

For pages: :func:`review_state_for` (the review panel's ``report_state``). For lists:
:func:`annotate_review_state` adds ``report_version`` and ``reviewed_at`` to a study queryset
(the worklist shows reviewed / unreviewed from them without a query per row).
"""
from dataclasses import dataclass, field

from django.db.models import OuterRef, QuerySet, Subquery

from triage.accounts.models import User
from triage.accounts.permissions import SIGN_ROLES, has_role
from triage.reports.models import Report
from triage.results.models import Result
from triage.results.selectors import current_result_for
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
