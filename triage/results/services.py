"""Run the AI on a study and store everything it produced, atomically; manage model versions."""
import logging
import os
from datetime import timedelta

from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from triage.accounts.models import User
from triage.accounts.permissions import require_platform_admin
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.results.audit_actions import ResultAction
from triage.results.engine import loaded_model
from triage.results.models import ModelVersion, Overlay, Quantification, Result, SliceScore
from triage.studies import storage
from triage.studies.dicom_headers import is_decoder_failure
from triage.studies.exceptions import IllegalStudyTransition
from triage.studies.models import Instance, Study
from triage.studies.services import (
    claim_study_for_processing,
    enqueue_analysis,
    mark_study_ready,
    release_claim_after_transient_error,
    requeue_stuck_studies,
)
from triage.worklist.services import refresh_worklist_entry

logger = logging.getLogger(__name__)

# Longer than the slowest study on a busy CPU worker; after it expires another worker may
# take the study over (a killed worker's claim ends this way).
INFERENCE_LEASE = timedelta(seconds=int(os.environ.get("TRIAGE_INFERENCE_LEASE_SECONDS", "1800")))
STUCK_QUEUED_AFTER = timedelta(minutes=10)

NO_SELECTED_SERIES_MSG = "The study has no CT series selected for analysis; re-upload or reprocess it."
UNREADABLE_SERIES_MSG = "The selected series could not be read as a CT volume: {error}"


class UnreadableSeries(DomainError):
    """The selected series' pixel data cannot be turned into a HU volume."""


class StudyLeaseHeld(Exception):
    """Another worker's claim on the study is still valid; try again after it ends."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"study claimed by another worker; retry in {retry_after_s}s")
        self.retry_after_s = retry_after_s


# --- Model versions ------------------------------------------------------------------------

def _register_from_card(reference: str | None) -> ModelVersion:
    from inference.registry import read_model_card

    card = read_model_card(reference)
    version, _ = ModelVersion.objects.get_or_create(
        name=card["name"], version=card["version"],
        defaults={"weights_sha256": card["weights_sha256"], "class_names": card["class_names"],
                  "input_size_px": card["input_size_px"], "card": card},
    )
    return version


@transaction.atomic
def ensure_active_model_version() -> ModelVersion:
    """Return the active model version, registering the weights folder's ACTIVE one if none is."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return active
    version = _register_from_card(None)
    ModelVersion.objects.filter(id=version.id).update(is_active=True)
    record_event(actor=None, action=ResultAction.MODEL_ACTIVATED, target=version, extra={"model": version.reference})
    version.is_active = True
    return version


@transaction.atomic
def activate_model_version(*, actor: User | None, reference: str, reanalyse: bool = False) -> ModelVersion:
    """Register ``<name>/<version>`` from its model card, make it active and optionally re-analyse.

    Re-analysis re-queues every ``ready`` study: each gets a new current Result from the new
    model while results of earlier versions stay for comparison.
    """
    if actor is not None:
        require_platform_admin(user=actor)
    version = _register_from_card(reference)
    previous = ModelVersion.objects.filter(is_active=True).exclude(id=version.id).first()
    if previous is None and version.is_active:
        return version
    ModelVersion.objects.filter(is_active=True).update(is_active=False)
    ModelVersion.objects.filter(id=version.id).update(is_active=True)
    version.is_active = True
    record_event(actor=actor, action=ResultAction.MODEL_ACTIVATED, target=version,
                 extra={"old": previous.reference if previous else None, "new": version.reference})
    if reanalyse:
        requeue_ready_studies_for_reanalysis(actor=actor)
    return version


def requeue_ready_studies_for_reanalysis(*, actor: User | None) -> int:
    """Send every ``ready`` study back to ``queued`` for the active model; one audit row per study."""
    requeued = 0
    for study in Study.objects.filter(status=Study.Status.READY).select_related("hospital").iterator():
        if not Study.objects.filter(id=study.id, status=Study.Status.READY).update(
                status=Study.Status.QUEUED, status_changed_at=timezone.now(), lease_until=None):
            continue
        record_event(actor=actor, action=ResultAction.REANALYSIS_REQUESTED, hospital=study.hospital, target=study,
                     extra={"old": Study.Status.READY, "new": Study.Status.QUEUED})
        refresh_worklist_entry(study=study)
        transaction.on_commit(lambda study_id=study.id: enqueue_analysis(study_id=study_id))
        requeued += 1
    return requeued


# --- Analysis ---------------------------------------------------------------------------------

def _selected_instances(study: Study) -> list[Instance]:
    if study.selected_series_id is None:
        raise UnreadableSeries(NO_SELECTED_SERIES_MSG)
    return list(Instance.objects.filter(series_id=study.selected_series_id, decode_error="")
                .order_by("z_position_mm", "instance_number", "id"))


def _read_volume(instances: list[Instance]):
    from pydicom.filebase import DicomBytesIO
    from pydicom import dcmread

    from inference.dicom_io import read_series

    try:
        return read_series([dcmread(DicomBytesIO(storage.read_content(i.storage_path))) for i in instances])
    except BaseException as exc:  # pydicom and the pixel decoders raise many types on corrupt data
        if not is_decoder_failure(exc):
            raise
        raise UnreadableSeries(UNREADABLE_SERIES_MSG.format(error=f"{type(exc).__name__}: {exc}"[:300])) from exc


def analyse_study(*, study_id: int) -> Result | None:
    """Claim a queued study, run the model, quantification and explanations, store all, mark ready.

    Idempotent: a study already analysed by the active model version is only marked ready;
    a study another worker holds (or that is finished or missing) is skipped. The heavy work
    runs outside any transaction; every row is written in one atomic block at the end. After a
    transient database error the claim is given back, so the task's retry can take it at once.
    """
    study = claim_study_for_processing(study_id=study_id, lease=INFERENCE_LEASE)
    if study is None:
        _raise_if_lease_held(study_id)
        return None
    try:
        return _analyse_claimed(study=study)
    except OperationalError:
        release_claim_after_transient_error(study_id=study_id, lease_until=study.lease_until)
        raise


def _analyse_claimed(*, study: Study) -> Result | None:
    from inference.analysis import StageTimer, analyse_volume

    study_id = study.id
    model_version = ensure_active_model_version()
    existing = Result.objects.filter(study_id=study_id, model_version=model_version).first()
    try:
        if existing is None:
            timer = StageTimer()
            with timer.stage("decode"):
                volume = _read_volume(_selected_instances(study))
            analysis = analyse_volume(volume, loaded=loaded_model(model_version.reference), timer=timer)
            existing = store_analysis(study=study, model_version=model_version, analysis=analysis)
        else:
            mark_study_ready(study_id=study_id)
    except IllegalStudyTransition:
        # New instances reopened the study while it was analysed: nothing was stored, and the
        # ingest of the complete study queues it again.
        logger.info("inference.superseded", extra={"study_id": study_id})
        return None
    logger.info("inference.finished", extra={"study_id": study_id, "model_version": model_version.reference})
    return existing


def _raise_if_lease_held(study_id: int) -> None:
    held_until = (Study.objects.filter(id=study_id, status=Study.Status.PROCESSING)
                  .values_list("lease_until", flat=True).first())
    if held_until is not None:
        raise StudyLeaseHeld(retry_after_s=max(int((held_until - timezone.now()).total_seconds()) + 1, 1))


def requeue_stuck_analyses() -> int:
    """Re-enqueue studies left ``queued`` (lost message) or ``processing`` past their lease (dead worker)."""
    queued = requeue_stuck_studies(status=Study.Status.QUEUED, older_than=STUCK_QUEUED_AFTER)
    processing = requeue_stuck_studies(status=Study.Status.PROCESSING, older_than=timedelta(0))
    return len(queued) + len(processing)


@transaction.atomic
def store_analysis(*, study: Study, model_version: ModelVersion, analysis) -> Result:
    """Write Result, slice scores, quantification and overlays, then mark the study ready."""
    Result.objects.filter(Q(study=study) & Q(is_current=True)).update(is_current=False)
    result = Result.objects.create(
        study=study, model_version=model_version, class_probabilities=analysis.class_probabilities,
        covid_probability=analysis.covid_probability,
        covid_probability_uncalibrated=analysis.covid_probability_uncalibrated,
        predicted_label=analysis.predicted_label, slices_scored=len(analysis.slice_scores),
        key_slice_indices=list(analysis.key_slice_indices), stage_seconds=analysis.stage_seconds,
    )
    SliceScore.objects.bulk_create(
        SliceScore(result=result, slice_index=s.slice_index, z_position_mm=s.z_position_mm,
                   covid_probability=s.covid_probability)
        for s in analysis.slice_scores
    )
    Quantification.objects.create(result=result, **quantification_fields(analysis.quantification))
    Overlay.objects.bulk_create(
        Overlay(result=result, slice_index=o.slice_index, kind=o.kind, png=o.png, heatmap=o.heatmap,
                width_px=o.width_px, height_px=o.height_px)
        for o in analysis.overlays
    )
    record_event(actor=None, action=ResultAction.RESULT_CREATED, hospital=study.hospital, target=study,
                 extra={"result": str(result.uuid), "model": model_version.reference,
                        "covid_probability": round(result.covid_probability, 4)})
    mark_study_ready(study_id=study.id)
    return result


def quantification_fields(report: dict) -> dict:
    """Map the quantification report (percent 0–100) onto model fields (fractions 0–1)."""
    percent = report["percent"]
    hu = report["lesion_hu"]
    return {
        "lung_left_ml": report["lung_ml"]["left"],
        "lung_right_ml": report["lung_ml"]["right"],
        "lesion_ggo_ml": report["lesion_ml"]["ggo"],
        "lesion_consolidation_ml": report["lesion_ml"]["consolidation"],
        "lesion_total_ml": report["lesion_ml"]["total"],
        "lesion_fraction_left": percent["left"] / 100.0,
        "lesion_fraction_right": percent["right"] / 100.0,
        "lesion_fraction_both": percent["both"] / 100.0,
        "lesion_hu_mean": hu.get("mean"),
        "lesion_hu_sd": hu.get("sd"),
        "lesion_hu_percentiles": hu.get("percentiles", {}),
        "lesion_hu_histogram": hu.get("histogram", {}),
        "zones": report["severity"]["zones"],
        "severity_total": report["severity"]["total"],
        "report": report,
    }
