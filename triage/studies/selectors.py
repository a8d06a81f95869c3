"""Reads of studies, always scoped to the hospitals the user may see."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import UPLOAD_ROLES, hospitals_with_role
from triage.accounts.tenancy import scope_to_user
from triage.audit.services import record_event
from triage.studies.audit_actions import StudyAction
from triage.studies.exceptions import StudyNotFound
from triage.studies.geometry import StackGap, stack_gaps
from triage.studies.models import Instance, Series, Study


@dataclass(frozen=True)
class StudyFilters:
    hospital_uuid: UUID | None = None
    status: str | None = None


def studies_visible_to(*, user: User) -> QuerySet[Study]:
    return scope_to_user(Study.objects.all(), user=user)


def study_list(*, user: User, filters: StudyFilters) -> QuerySet[Study]:
    qs = studies_visible_to(user=user).select_related("hospital")
    if filters.hospital_uuid is not None:
        qs = qs.filter(hospital__uuid=filters.hospital_uuid)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs.order_by("-received_at", "-id")


def study_get(*, user: User, study_uuid: UUID) -> Study:
    """Fetch a visible study for a write (no audit row; the write audits itself)."""
    study = studies_visible_to(user=user).select_related("hospital").filter(uuid=study_uuid).first()
    if study is None:
        raise StudyNotFound()
    return study


def access_study(*, user: User, study_uuid: UUID) -> Study:
    """Fetch a visible study with its series for reading patient data; audit the read."""
    series = Prefetch("series", queryset=Series.objects.order_by("series_number", "id"))
    study = (studies_visible_to(user=user).select_related("hospital", "selected_series")
             .prefetch_related(series).filter(uuid=study_uuid).first())
    if study is None:
        raise StudyNotFound()
    record_event(actor=user, action=StudyAction.VIEWED, hospital=study.hospital, target=study)
    return study


def record_studies_listed(*, user: User, studies: Iterable[Study], via: str) -> None:
    """Audit that ``studies`` (one page of a list, with patient identifiers) were shown: a row per hospital."""
    by_hospital: dict[int, list[str]] = {}
    for study in studies:
        by_hospital.setdefault(study.hospital_id, []).append(str(study.uuid))
    hospitals = Hospital.objects.in_bulk(by_hospital)
    for hospital_id, uuids in by_hospital.items():
        record_event(actor=user, action=StudyAction.LISTED, hospital=hospitals[hospital_id],
                     extra={"via": via, "studies": uuids})


def upload_hospitals_for(*, user: User) -> QuerySet[Hospital]:
    """Hospitals the user may upload to (a role in ``UPLOAD_ROLES`` there, or platform admin)."""
    return hospitals_with_role(user=user, roles=UPLOAD_ROLES)


def ordered_slices(*, study: Study) -> QuerySet[Instance]:
    """Return the study's analysed slices in the order ingest sorted and stored them (feet to head).

    Position ``i`` here is slice ``i`` everywhere: of the volume the model saw, of the viewer,
    of the overlays and slice scores, of the report (shown as number ``i + 1``). Empty before a
    series is selected. The order is the stored ``z_position_mm`` (then InstanceNumber), never re-derived.
    """
    if study.selected_series_id is None:
        return Instance.objects.none()
    return (Instance.objects.filter(series_id=study.selected_series_id, decode_error="", z_position_mm__isnull=False)
            .order_by("z_position_mm", "instance_number", "id"))


def stack_gaps_for(*, study: Study) -> list[StackGap]:
    """Return the holes in the study's shown stack (missing slices), ``[]`` when it looks whole."""
    rows = list(ordered_slices(study=study).values_list("z_position_mm", "instance_number"))
    return stack_gaps([z for z, _ in rows], [n for _, n in rows])


# --- System reads of the pipeline (no user: workers and sweeps) ------------------------------

def stuck_study_ids(*, status: str, older_than: timedelta, now: datetime, limit: int = 500) -> list[int]:
    """Return ids of studies in ``status`` unchanged for ``older_than``, with no new instance and no live lease.

    A study whose claim expired is returned at once, without the ``older_than`` grace (which
    lets a study still receiving instances settle): a worker began on it, so it was complete,
    and then died without renewing its lease (triage/studies/leases.py).
    """
    cutoff = now - older_than
    settled = Q(status_changed_at__lt=cutoff) & (Q(last_instance_received_at__isnull=True)
                                                 | Q(last_instance_received_at__lt=cutoff))
    abandoned = Q(lease_until__lt=now)
    stuck = (Study.objects.filter(status=status).filter(settled | abandoned)
             .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
             .order_by("status_changed_at").values_list("id", flat=True)[:limit])
    return list(stuck)


def stage_held_until(*, study_id: int, stage: str, now: datetime) -> datetime | None:
    """Return when a live worker's claim on analysis ``stage`` of a ``processing`` study ends; None when nobody holds it.

    A ``prepare`` claim may also be one taken before analyses had stages (stage ``""``).
    """
    stages = ["", stage] if stage == Study.AnalysisStage.PREPARE else [stage]
    return (Study.objects.filter(id=study_id, status=Study.Status.PROCESSING, lease_until__gte=now,
                                 analysis_stage__in=stages).values_list("lease_until", flat=True).first())


def analysis_stage_of(*, study_id: int) -> str | None:
    """Return where a ``processing`` study's analysis stands (``Study.AnalysisStage``; None when it is not processing)."""
    return (Study.objects.filter(id=study_id, status=Study.Status.PROCESSING)
            .values_list("analysis_stage", flat=True).first())
