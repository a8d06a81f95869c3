"""What happens to a study next: the one place that chains the step services (B16).

``studies`` receives and ingests, ``results`` analyses and stores; neither knows the other.
Each function here calls a step, reads its outcome and, after commit, enqueues the next
step::

    upload (web, REST, STOW-RS, C-STORE, demo) ──> ingest ──> analyse ──> ready
    reprocess (hospital admin) ─┘        model activation with re-analysis ─┘
    sweeps: received → ingest again; queued / lease-expired processing → analyse again

``transaction.on_commit`` runs a callback at once when no transaction is open, and after the
outer commit otherwise, so a message never names a row that is not committed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import OperationalError, transaction
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.audit.services import record_event
from triage.core.exceptions import StorageOffline
from triage.pipeline.enqueue import (enqueue_analysis, enqueue_classify, enqueue_finish, enqueue_ingest,
                                     enqueue_shadow_analysis)
from triage.results import selectors as result_selectors
from triage.results import services as result_services
from triage.results.audit_actions import ResultAction
from triage.results.models import ModelVersion, Result
from triage.studies import selectors as study_selectors
from triage.core import object_store
from triage.studies import storage
from triage.studies.exceptions import IllegalStudyTransition
from triage.studies.leases import CLAIM_LEASE, LeaseHeartbeat
from triage.studies.models import Study
from triage.studies.services import ingest as study_ingest
from triage.studies.services import receiving as study_receiving
from triage.studies.services import stages as stage_services
from triage.studies.services import states as study_states
from triage.studies.services.ingest import AfterIngest
from triage.studies.services.receiving import UploadReport
from triage.studies.uploads import IncomingFile
from triage.studies.volume import read_selected_volume

logger = logging.getLogger(__name__)

Status = Study.Status
Stage = Study.AnalysisStage

QUEUE_DOWN_NOTE = "Stored. The processing queue is unavailable; processing starts automatically when it is back."
STUCK_RECEIVED_AFTER = timedelta(minutes=10)
STUCK_QUEUED_AFTER = timedelta(minutes=10)
# The step that moves a study on from each status the sweep looks at.
SWEEP_ENQUEUERS = {Status.RECEIVED: enqueue_ingest, Status.QUEUED: enqueue_analysis,
                   Status.PROCESSING: enqueue_analysis}
# The task of each analysis stage after the first (``results.analyse_study`` prepares), and the order.
STAGE_ENQUEUERS = {Stage.CLASSIFY: enqueue_classify, Stage.FINISH: enqueue_finish}
STAGE_AFTER = {Stage.PREPARE: Stage.CLASSIFY, Stage.CLASSIFY: Stage.FINISH}


class StudyLeaseHeld(Exception):
    """Another worker's claim on the study is still valid; try again after it ends."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"study claimed by another worker; retry in {retry_after_s}s")
        self.retry_after_s = retry_after_s


# --- Receiving: every upload path hands its files over here --------------------------------

def receive_upload(*, hospital: Hospital, uploaded_by: User | None, files: Iterable[IncomingFile], source: str,
                   now: datetime | None = None) -> UploadReport:
    """Store and record uploaded files (:func:`~triage.studies.services.receiving.receive_instances`), then ingest.

    After commit each study with new instances goes to the ``ingest`` queue; if the broker is
    down the study stays ``received`` (the sweep re-enqueues it) and the report says so.
    """
    report = study_receiving.receive_instances(hospital=hospital, uploaded_by=uploaded_by, files=files,
                                              source=source, now=now)

    def enqueue_all() -> None:
        for study_id in report.studies_to_ingest:
            if not enqueue_ingest(study_id=study_id):
                report.queue_unavailable = True
                report.note = QUEUE_DOWN_NOTE

    transaction.on_commit(enqueue_all, robust=True)  # never undo a committed upload
    return report


# --- Ingest -> analysis ----------------------------------------------------------------------

def ingest_study(*, study_id: int, now: datetime | None = None) -> Study | None:
    """Run the ingest step; a queued study goes to analysis, one reopened or still receiving to ingest again."""
    outcome = study_ingest.ingest_study(study_id=study_id, now=now)
    if outcome.next_step == AfterIngest.ANALYSE:
        transaction.on_commit(partial(enqueue_analysis, study_id=study_id))
    elif outcome.next_step == AfterIngest.INGEST_AGAIN:
        transaction.on_commit(partial(enqueue_ingest, study_id=study_id))
    elif outcome.next_step == AfterIngest.WAIT:  # still receiving: look again once it is stable
        transaction.on_commit(partial(enqueue_ingest, study_id=study_id, countdown_s=outcome.wait_s))
    return outcome.study


def analyse_study(*, study_id: int) -> Result | None:
    """Start or resume a study's analysis: the entry of ``results.analyse_study`` (every sender and the sweep).

    A ``queued`` study (or one whose prepare worker died) is claimed and prepared here; one
    already past preparing goes to the stage it waits for. Idempotent: a study already
    analysed by the active model version is only marked ready; one that is finished or missing
    is skipped, and one another worker holds raises :class:`StudyLeaseHeld` (the task retries
    when that lease ends).
    """
    study = study_states.claim_study_for_processing(study_id=study_id, lease=CLAIM_LEASE)
    if study is None:
        stage = study_selectors.analysis_stage_of(study_id=study_id)
        resume = stage_services.NEXT_WORK.get(stage) if stage is not None else None
        if resume not in STAGE_ENQUEUERS:
            return _raise_if_held(study_id=study_id, stage=Stage.PREPARE)
        if stage == resume:
            _raise_if_held(study_id=study_id, stage=stage)  # its worker may be alive: it hands on itself
        STAGE_ENQUEUERS[resume](study_id=study_id)  # waiting for a stage whose message was lost, or a dead worker's
        return None
    return _with_lease(study, work=_prepare_claimed)


def classify_study(*, study_id: int) -> None:
    """Run the GPU stage (``results.classify_study``) of a prepared study: the model and Grad-CAM, nothing else."""
    study = stage_services.claim_analysis_stage(study_id=study_id, stage=Stage.CLASSIFY, lease=CLAIM_LEASE)
    if study is None:
        return _raise_if_held(study_id=study_id, stage=Stage.CLASSIFY)
    return _with_lease(study, work=_classify_claimed)


def finish_study(*, study_id: int) -> Result | None:
    """Run the last stage (``results.finish_study``) of a classified study: quantify, render, store, mark ready."""
    study = stage_services.claim_analysis_stage(study_id=study_id, stage=Stage.FINISH, lease=CLAIM_LEASE)
    if study is None:
        return _raise_if_held(study_id=study_id, stage=Stage.FINISH)
    return _with_lease(study, work=_finish_claimed)


def _raise_if_held(*, study_id: int, stage: str) -> None:
    """Raise :class:`StudyLeaseHeld` when a live worker holds ``stage`` of the study; else there is nothing to do."""
    now = timezone.now()
    held_until = study_selectors.stage_held_until(study_id=study_id, stage=stage, now=now)
    if held_until is not None:
        raise StudyLeaseHeld(retry_after_s=max(int((held_until - now).total_seconds()) + 1, 1))
    return None


def _with_lease(study: Study, *, work):
    """Run ``work(study)`` while a heartbeat renews the claim (triage/studies/leases.py); hand on what it returns.

    After a transient database or store error the claim is given back, so the task's retry takes it at once.
    """
    heartbeat = LeaseHeartbeat(study_id=study.id, lease_until=study.lease_until)
    try:
        with heartbeat:
            outcome = work(study)
    except (OperationalError, StorageOffline):
        study_states.release_claim_after_transient_error(study_id=study.id, lease_until=heartbeat.lease_until)
        raise
    if isinstance(outcome, Handoff):
        _hand_off(study, outcome, lease_until=heartbeat.lease_until)
        return None
    return outcome


@dataclass(frozen=True)
class Handoff:
    """A stage's output: stored at ``blob``, for the ``stage`` that comes next."""

    stage: str
    blob: str
    done_with: str = ""  # the previous stage's blob, no longer needed once this one is handed on


def _hand_off(study: Study, handoff: Handoff, *, lease_until: datetime) -> None:
    """Leave the study waiting for the next stage and send its message; a claim lost meanwhile sends nothing."""
    handed = stage_services.hand_off_analysis_stage(study_id=study.id, stage=handoff.stage, lease_until=lease_until,
                                                    blob=handoff.blob)
    if not handed:
        logger.info("inference.superseded", extra={"study_id": study.id, "stage": handoff.stage})
        return
    transaction.on_commit(partial(STAGE_ENQUEUERS[STAGE_AFTER[handoff.stage]], study_id=study.id))
    if handoff.done_with:
        transaction.on_commit(partial(object_store.delete_content, [handoff.done_with]))


def _prepare_claimed(study: Study) -> Result | Handoff | None:
    from inference.analysis import StageTimer
    from inference.stages import to_npz

    model_version = result_services.ensure_active_model_version()
    result = result_selectors.result_for_model_version(study_id=study.id, model_version=model_version)
    if result is not None:  # e.g. a promoted candidate's shadow result: it becomes the one shown, no model run
        return _commit(study, lambda: result_services.make_result_current(result=result))
    route = result_services.analysis_route(model_version=model_version)
    if route == result_services.WHOLE_ON_CPU:
        return _analyse_whole(study)
    if route == result_services.WHOLE_ON_GPU:
        return Handoff(stage=Stage.PREPARE, blob="")  # the GPU stage runs it whole
    timer = StageTimer()
    with timer.stage("decode"):
        volume = read_selected_volume(study=study)
    prepared = result_services.prepare_analysis(volume=volume, model_version=model_version, timer=timer)
    data = to_npz(prepared, header={"study_id": study.id, "model_version_id": model_version.id})
    return Handoff(stage=Stage.PREPARE, blob=storage.store_analysis_blob(hospital_uuid=study.hospital.uuid, data=data))


def _classify_claimed(study: Study) -> Result | Handoff | None:
    from inference.analysis import StageTimer
    from inference.stages import from_npz, to_npz

    if not study.analysis_blob:
        return _analyse_whole(study)
    prepared, header = from_npz(object_store.read_content(study.analysis_blob))
    model_version = ModelVersion.objects.get(id=header["model_version_id"])
    classified = result_services.classify_analysis(prepared=prepared, model_version=model_version,
                                                   timer=StageTimer(prepared.stage_seconds))
    data = to_npz(classified, header=header)
    return Handoff(stage=Stage.CLASSIFY, blob=storage.store_analysis_blob(hospital_uuid=study.hospital.uuid, data=data),
                   done_with=study.analysis_blob)


def _finish_claimed(study: Study) -> Result | None:
    from inference.analysis import StageTimer
    from inference.stages import from_npz

    classified, header = from_npz(object_store.read_content(study.analysis_blob))
    model_version = ModelVersion.objects.get(id=header["model_version_id"])
    timer = StageTimer(classified.stage_seconds)
    with timer.stage("decode"):
        volume = read_selected_volume(study=study)
    analysis = result_services.finish_analysis(volume=volume, classified=classified, model_version=model_version,
                                               timer=timer)
    return _store_new_result(study, model_version=model_version, analysis=analysis)  # ready drops the blob


def _analyse_whole(study: Study) -> Result | None:
    """Analyse in one task (a model without stages): decode, model, quantify, render and store here."""
    from inference.analysis import StageTimer

    model_version = result_services.ensure_active_model_version()
    timer = StageTimer()
    with timer.stage("decode"):
        volume = read_selected_volume(study=study)
    analysis = result_services.run_analysis(volume=volume, model_version=model_version, timer=timer)
    return _store_new_result(study, model_version=model_version, analysis=analysis)


def _store_new_result(study: Study, *, model_version: ModelVersion, analysis) -> Result | None:
    """Store the analysis as the study's current result and mark it ready; then run open candidates in shadow."""
    def store() -> Result:
        result = result_services.store_analysis(study=study, model_version=model_version, analysis=analysis)
        for candidate in result_selectors.open_candidate_versions(hospital=study.hospital):
            transaction.on_commit(partial(enqueue_shadow_analysis, study_id=study.id, model_version_id=candidate.id))
        return result

    return _commit(study, store)


def _commit(study: Study, write) -> Result | None:
    """Run ``write()`` and the move to ``ready`` in one transaction; None when new instances reopened the study."""
    try:
        with transaction.atomic():
            result = write()
            study_states.mark_study_ready(study_id=study.id)
    except IllegalStudyTransition:
        # New instances reopened the study while it was analysed: nothing was stored, and the
        # ingest of the complete study queues it again.
        logger.info("inference.superseded", extra={"study_id": study.id})
        return None
    logger.info("inference.finished", extra={"study_id": study.id, "result": str(result.uuid)})
    return result


def analyse_shadow(*, study_id: int, model_version_id: int) -> Result | None:
    """Store a candidate model's hidden result for a ready study; idempotent (one result per study and model)."""
    from inference.analysis import StageTimer

    study = Study.objects.filter(id=study_id, status=Status.READY).select_related("hospital").first()
    model_version = ModelVersion.objects.filter(id=model_version_id, is_active=False).first()
    if study is None or model_version is None:
        return None  # re-opened, failed, or promoted meanwhile: the normal analysis covers it
    existing = result_selectors.result_for_model_version(study_id=study_id, model_version=model_version)
    if existing is not None:
        return existing
    timer = StageTimer()
    with timer.stage("decode"):
        volume = read_selected_volume(study=study)
    analysis = result_services.run_analysis(volume=volume, model_version=model_version, timer=timer)
    result = result_services.store_analysis(study=study, model_version=model_version, analysis=analysis, shadow=True)
    logger.info("inference.shadow_finished", extra={"study_id": study_id, "model_version": model_version.reference})
    return result


@transaction.atomic
def promote_candidate(*, actor: User, candidate_uuid, evidence: dict, reanalyse: bool = False,
                      now: datetime | None = None) -> ModelVersion:
    """Make a candidate the active model in one audited action, recording the evidence it was promoted on.

    ``evidence`` is the comparison the admin was shown (:func:`triage.monitoring.shadow.candidate_comparison`).
    Earlier results stay; with ``reanalyse`` every ready study is re-queued, and one that already
    has the candidate's shadow result gets it as its current result without running the model again.
    """
    candidate = result_selectors.candidate_get(user=actor, candidate_uuid=candidate_uuid)
    version = activate_model_version(actor=actor, reference=candidate.model_version.reference, reanalyse=reanalyse)
    result_services.end_candidacies(model_version=version, now=now or timezone.now())
    # The ROC curves are drawn from the same scores; the audit row keeps the figures the admin read.
    figures = {key: value for key, value in evidence.items() if key != "roc"}
    record_event(actor=actor, action=ResultAction.CANDIDATE_PROMOTED, hospital=candidate.hospital, target=version,
                 extra={"model": version.reference, "reanalyse": reanalyse, "evidence": figures})
    return version


# --- Sending studies through again -------------------------------------------------------------

def reprocess_study(*, actor: User, study: Study, now: datetime | None = None) -> Study:
    """Send a ``failed`` or ``ready`` study through again (hospital admins): analysis, or ingest without a series."""
    study = study_states.reprocess_study(actor=actor, study=study, now=now)
    enqueue = enqueue_analysis if study.status == Status.QUEUED else enqueue_ingest
    transaction.on_commit(partial(enqueue, study_id=study.id))
    return study


@transaction.atomic
def activate_model_version(*, actor: User | None, reference: str, reanalyse: bool = False) -> ModelVersion:
    """Make ``<name>/<version>`` the active model; with ``reanalyse``, re-queue every ``ready`` study for it.

    Re-analysis gives each study a new current Result from the new model while results of
    earlier versions stay for comparison. Activating the model that is already active changes nothing.
    """
    previous = result_selectors.active_model_version()
    version = result_services.activate_model_version(actor=actor, reference=reference)
    if reanalyse and (previous is None or previous.id != version.id):
        reanalyse_ready_studies(actor=actor)
    return version


def reanalyse_ready_studies(*, actor: User | None) -> int:
    """Send every ``ready`` study back to ``queued`` for the active model; one audit row per study."""
    requeued = study_states.requeue_ready_studies(actor=actor, action=ResultAction.REANALYSIS_REQUESTED)
    for study_id in requeued:
        transaction.on_commit(partial(enqueue_analysis, study_id=study_id))
    return len(requeued)


# --- Sweeps (beat) -------------------------------------------------------------------------------

def requeue_stuck_studies(*, status: str = Status.RECEIVED, older_than: timedelta = STUCK_RECEIVED_AFTER,
                          now: datetime | None = None, limit: int = 500) -> list[int]:
    """Re-enqueue studies in ``status`` unchanged for ``older_than`` whose lease (if any) expired.

    Covers a broker outage during upload and a worker killed mid-task. Safe to run at any
    time: the tasks claim with conditional updates, so a study enqueued twice is handled once.
    ``SWEEP_ENQUEUERS`` maps each status to the step that moves it on.
    """
    enqueue = SWEEP_ENQUEUERS[status]
    ids = study_selectors.stuck_study_ids(status=status, older_than=older_than, now=now or timezone.now(),
                                          limit=limit)
    requeued = [study_id for study_id in ids if enqueue(study_id=study_id)]
    if ids:
        logger.info("studies.sweep", extra={"status": status, "found": len(ids), "requeued": len(requeued)})
    return requeued


def requeue_stuck_analyses() -> int:
    """Re-enqueue studies left ``queued`` (lost message) or ``processing`` past their lease (dead worker)."""
    queued = requeue_stuck_studies(status=Status.QUEUED, older_than=STUCK_QUEUED_AFTER)
    processing = requeue_stuck_studies(status=Status.PROCESSING, older_than=timedelta(0))
    return len(queued) + len(processing)
