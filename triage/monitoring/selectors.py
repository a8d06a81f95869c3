"""Reads for dashboards, operations, exports. Every one is scoped through the user's visible studies.

Dashboards are for administrators: a hospital's admins see that hospital; a platform admin sees
every hospital and the pooled "all hospitals" view. Anyone else gets the same 404 as for a
hospital that does not exist (non-members) or 403 (members without the admin role).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import numpy as np
from django.conf import settings
from django.db.models import Count, QuerySet
from django.db.models.functions import ExtractIsoYear, ExtractWeek, TruncDate
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, hospitals_with_role, require_platform_admin
from triage.accounts.selectors import administered_hospital_get
from triage.accounts.tenancy import hospitals_visible_to
from triage.audit.services import record_event
from triage.decisions.models import PcrOutcome
from triage.monitoring import evaluation as ev
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.evaluation_cache import evaluate_cached
from triage.monitoring.exports import DicomExport
from triage.monitoring.models import DEFAULT_OPERATING_THRESHOLD, MonitoringSettings
from triage.reports.selectors import annotate_review_state, latest_report_for
from triage.results.models import ModelVersion
from triage.results.selectors import current_result_for, current_results
from triage.core import object_store
from triage.studies.models import Study
from triage.studies.selectors import ordered_slices, studies_visible_to, study_get

POSITIVE_CLASS_FALLBACK = "covid"
DRIFT_WEEKS = 26
OPERATIONS_DAYS = 14
QUEUE_STATUSES = (Study.Status.RECEIVED, Study.Status.QUEUED, Study.Status.PROCESSING)


def operating_threshold_for(*, hospital: Hospital) -> float:
    row = MonitoringSettings.objects.filter(hospital=hospital).values_list("operating_threshold", flat=True).first()
    return DEFAULT_OPERATING_THRESHOLD if row is None else row


def admin_hospitals_for(*, user: User) -> QuerySet[Hospital]:
    """Hospitals whose dashboards the user may open: admin role there, or every one for a platform admin."""
    return hospitals_with_role(user=user, roles=ADMIN_ROLES)


def dashboard_hospital_get(*, user: User, hospital_uuid: UUID) -> Hospital:
    """Return a hospital the user administers (404 when not visible, 403 when not admin there)."""
    return administered_hospital_get(user=user, hospital_uuid=hospital_uuid)


def all_hospitals_get(*, user: User) -> list[Hospital]:
    """Return every hospital for the pooled view (platform admins only)."""
    require_platform_admin(user=user)
    return list(hospitals_visible_to(user=user))


@dataclass(frozen=True)
class DashboardScope:
    """One hospital (``hospital`` set) or every hospital (``hospital`` is ``None``)."""

    hospitals: list[Hospital]
    hospital: Hospital | None = None

    @property
    def name(self) -> str:
        return self.hospital.name if self.hospital else "All hospitals"

    @property
    def slug(self) -> str:
        return self.hospital.code if self.hospital else "all"

    @property
    def threshold_label(self) -> str:
        if self.hospital is not None:
            return f"{operating_threshold_for(hospital=self.hospital):g}"
        return "each hospital's own"


def dashboard_scope_get(*, user: User, hospital_uuid: UUID | None) -> DashboardScope:
    """Return the scope of a dashboard: a hospital the user administers, or all (platform admins)."""
    if hospital_uuid is None:
        return DashboardScope(hospitals=all_hospitals_get(user=user))
    hospital = dashboard_hospital_get(user=user, hospital_uuid=hospital_uuid)
    return DashboardScope(hospitals=[hospital], hospital=hospital)


def _studies(*, user: User, hospitals: list[Hospital]) -> QuerySet[Study]:
    return studies_visible_to(user=user).filter(hospital__in=hospitals)


def _positive_classes() -> dict[int, str]:
    return {mv.id: str(mv.card.get("positive_class", POSITIVE_CLASS_FALLBACK)).lower()
            for mv in ModelVersion.objects.only("id", "card")}


def _thresholds(hospitals: list[Hospital]) -> dict[int, float]:
    stored = dict(MonitoringSettings.objects.filter(hospital__in=hospitals)
                  .values_list("hospital_id", "operating_threshold"))
    return {h.id: stored.get(h.id, DEFAULT_OPERATING_THRESHOLD) for h in hospitals}


@dataclass(frozen=True)
class _EvaluationRow:
    """One study in an evaluation: its current AI result, the operating threshold, the signed label, PCR."""

    probability: float
    threshold: float
    iso_week: str  # of received_at in local time, e.g. "2026-W07" (computed by the database)
    received_at: datetime
    pcr: str | None  # current PCR result, None when none was recorded
    radiologist_positive: bool | None  # signed report label is the model's positive class; None when unsigned

    @property
    def model_positive(self) -> bool:
        return self.probability >= self.threshold

    @property
    def radiologist_code(self) -> int:
        """Return 1/0 for a signed positive/negative label, -1 when unsigned (``evaluate``'s convention)."""
        return -1 if self.radiologist_positive is None else int(self.radiologist_positive)


def evaluation_for(*, user: User, hospitals: list[Hospital], n_boot: int = ev.N_BOOT,
                   now: datetime | None = None) -> ev.Evaluation:
    """Evaluate the current AI results and signed reports of ``hospitals`` against current PCR outcomes."""
    now = now or timezone.now()
    studies = _studies(user=user, hospitals=hospitals)
    thresholds, positive_classes = _thresholds(hospitals), _positive_classes()
    # The ISO week comes from the database: converting thousands of datetimes in Python cost more than the query.
    results = list(current_results(studies=studies).annotate(
        iso_year=ExtractIsoYear("study__received_at"), week=ExtractWeek("study__received_at")).values_list(
        "study_id", "covid_probability", "model_version_id", "study__hospital_id", "study__received_at",
        "iso_year", "week"))
    pcr = dict(PcrOutcome.objects.filter(is_current=True, study__in=studies).values_list("study_id", "result"))
    labels = dict(annotate_review_state(studies).filter(report_version__isnull=False)
                  .values_list("id", "report_label"))

    rows = []
    for study_id, probability, version_id, hospital_id, received_at, iso_year, week in results:
        label = labels.get(study_id)
        rows.append(_EvaluationRow(
            probability=probability, threshold=thresholds[hospital_id], received_at=received_at,
            iso_week=f"{iso_year}-W{week:02d}",
            pcr=pcr.get(study_id),
            radiologist_positive=None if label is None else label.lower() == positive_classes.get(version_id)))
    conclusive = [r for r in rows if r.pcr in (PcrOutcome.Result.POSITIVE, PcrOutcome.Result.NEGATIVE)]
    evaluation = evaluate_cached(
        pcr_positive=np.array([r.pcr == PcrOutcome.Result.POSITIVE for r in conclusive], dtype=np.int64),
        probability=np.array([r.probability for r in conclusive], dtype=np.float64),
        threshold=np.array([r.threshold for r in conclusive], dtype=np.float64),
        radiologist_positive=np.array([r.radiologist_code for r in conclusive], dtype=np.int64),
        n_inconclusive=sum(1 for r in rows if r.pcr == PcrOutcome.Result.INCONCLUSIVE),
        n_boot=n_boot,
    )
    signed = [r for r in rows if r.radiologist_positive is not None]
    evaluation.n_kappa = len(signed)
    evaluation.kappa_model_radiologist = ev.model_radiologist_kappa(
        np.array([r.model_positive for r in signed], dtype=np.int64),
        np.array([r.radiologist_code for r in signed], dtype=np.int64))
    since = now - timedelta(weeks=DRIFT_WEEKS)
    recent = [r for r in rows if r.received_at >= since]
    evaluation.drift = ev.weekly_drift(np.array([r.iso_week for r in recent], dtype=str),
                                       np.array([r.probability for r in recent], dtype=np.float64),
                                       np.array([r.threshold for r in recent], dtype=np.float64))
    return evaluation


@dataclass
class Operations:
    days: int
    studies_per_day: list[tuple[str, int]] = field(default_factory=list)
    queue: dict[str, int] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    n_ready: int = 0
    n_failed: int = 0
    failure_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def failure_rate(self) -> float | None:
        finished = self.n_ready + self.n_failed
        return self.n_failed / finished if finished else None


def operations_for(*, user: User, hospitals: list[Hospital], days: int = OPERATIONS_DAYS,
                   now: datetime | None = None) -> Operations:
    """Throughput, queue, upload-to-ready latency and failures of studies received in the last ``days``.

    Latency is ``status_changed_at - received_at`` of studies now ``ready`` (the time they became ready).
    """
    now = now or timezone.now()
    studies = _studies(user=user, hospitals=hospitals)
    window = studies.filter(received_at__gte=now - timedelta(days=days))
    ops = Operations(days=days)
    today = timezone.localdate(now)
    per_day = {today - timedelta(days=i): 0 for i in range(days - 1, -1, -1)}
    # Counted per local day by the database, not row by row here.
    for day, n in window.annotate(day=TruncDate("received_at")).values_list("day").annotate(n=Count("id")).order_by():
        if day in per_day:
            per_day[day] = n
    ops.studies_per_day = [(day.isoformat(), n) for day, n in per_day.items()]
    counts = dict(studies.filter(status__in=QUEUE_STATUSES).values_list("status").annotate(n=Count("id")))
    ops.queue = {status.value: counts.get(status.value, 0) for status in QUEUE_STATUSES}
    ready = window.filter(status=Study.Status.READY).values_list("received_at", "status_changed_at")
    latencies = np.array([(changed - received).total_seconds() for received, changed in ready], dtype=np.float64)
    ops.n_ready = int(latencies.size)
    if latencies.size:
        ops.latency_p50_s, ops.latency_p95_s = (float(v) for v in np.percentile(latencies, [50, 95]))
    failed = window.filter(status=Study.Status.FAILED)
    ops.n_failed = failed.count()
    ops.failure_reasons = list(failed.values_list("failure_reason").annotate(n=Count("id")).order_by("-n")[:10])
    return ops


# --- Exports -------------------------------------------------------------------------------


def fhir_report_get(*, user: User, study_uuid: UUID) -> dict:
    """Return the study's FHIR R4 Bundle (DiagnosticReport + Observations); audit the read."""
    from triage.monitoring.fhir import diagnostic_report_bundle

    study = study_get(user=user, study_uuid=study_uuid)
    result = current_result_for(study=study)
    quantification = getattr(result, "quantification", None)
    bundle = diagnostic_report_bundle(study=study, result=result, quantification=quantification,
                                      report=latest_report_for(study=study))
    record_event(actor=user, action=MonitoringAction.FHIR_EXPORTED, hospital=study.hospital, target=study)
    return bundle


def metrics_csv_get(*, user: User, scope: DashboardScope) -> str:
    """Return the scope's metrics as CSV; audit the export per hospital."""
    from triage.monitoring.exports import metrics_csv

    evaluation = evaluation_for(user=user, hospitals=scope.hospitals)
    for hospital in scope.hospitals:
        record_event(actor=user, action=MonitoringAction.METRICS_EXPORTED, hospital=hospital)
    return metrics_csv(scope=scope.slug, evaluation=evaluation, threshold_label=scope.threshold_label)


def research_key() -> bytes:
    """Return the pseudonymisation key: ``RESEARCH_EXPORT_KEY`` or one derived from ``SECRET_KEY``.

    The same key gives the same pseudonyms in every export, so exports can be joined.
    """
    configured = getattr(settings, "RESEARCH_EXPORT_KEY", "")
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"ct-triage research export", hashlib.sha256).digest()


def research_export_rows(*, user: User, hospitals: list[Hospital]) -> list[dict]:
    """Return de-identified rows (study, AI result, quantification, report label, PCR) of ``hospitals``; audit it.

    Callers pass hospitals from :func:`dashboard_hospital_get` / :func:`all_hospitals_get` (admins only).
    """
    from triage.monitoring.exports import research_row

    studies = _studies(user=user, hospitals=hospitals).filter(results__is_current=True)
    studies = annotate_review_state(studies).select_related("hospital").order_by("id")
    results = {r.study_id: r for r in current_results(studies=studies).select_related("model_version", "quantification")}
    pcr = dict(PcrOutcome.objects.filter(is_current=True, study__in=studies).values_list("study_id", "result"))
    key = research_key()
    rows = [research_row(study=s, result=results[s.id], report_label=s.report_label, pcr_result=pcr.get(s.id),
                         key=key) for s in studies]
    for hospital in hospitals:
        record_event(actor=user, action=MonitoringAction.RESEARCH_EXPORTED, hospital=hospital,
                     extra={"rows": sum(1 for s in studies if s.hospital_id == hospital.id)})
    return rows


def research_dicom_export(*, user: User, hospitals: list[Hospital]) -> DicomExport:
    """Return the analysed images of the research export's studies as de-identified DICOM (a zip); audit it.

    The studies are those of :func:`research_export_rows` (a current AI result), each with its
    ordered slices, under the same key, so UIDs in the zip match the CSV's. Callers pass
    hospitals from :func:`dashboard_hospital_get` / :func:`all_hospitals_get` (admins only).
    """
    from triage.monitoring.exports import deidentified_dicom_zip

    studies = list(_studies(user=user, hospitals=hospitals).filter(results__is_current=True).order_by("id"))

    def files() -> Iterator[bytes]:
        for study in studies:
            for instance in ordered_slices(study=study).only("storage_path"):
                yield object_store.read_content(instance.storage_path)

    export = deidentified_dicom_zip(files(), key=research_key())
    for hospital in hospitals:
        record_event(actor=user, action=MonitoringAction.RESEARCH_EXPORTED, hospital=hospital,
                     extra={"format": "dicom", "studies": sum(1 for s in studies if s.hospital_id == hospital.id),
                            "instances": export.instances, "refused": export.refused})
    return export
