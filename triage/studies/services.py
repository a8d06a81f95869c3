"""Every write to studies: receiving uploaded files, the ingest step and the state machine.

A step service: it returns what it did and never enqueues; :mod:`triage.pipeline.services`
decides (after commit) what runs next.

State machine (each transition one function, audited in the same transaction, applied as a
conditional UPDATE so two workers can never both make it)::

    received ──ingest──> queued ──claim──> processing ──> ready
        │                  │                    │
        └──────────────────┴────────────────────┴──> failed(reason)
    failed | ready ──reprocess (hospital admin)──> queued (received when no series was selected)

New instances arriving for a study that is past ``received`` re-open it (back to ``received``),
so it is ingested again with all its slices.
"""
from __future__ import annotations

import enum
import errno
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, UPLOAD_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError, StorageOffline
from triage.core.signals import study_changed
from triage.studies import storage
from triage.studies.audit_actions import StudyAction
from triage.studies.dicom_headers import CTHeader, RejectedFile, is_decoder_failure, read_ct_header, read_dataset
from triage.studies.exceptions import (IllegalStudyTransition, NoUsableSeries, StorageFull, StorageUnavailable,
                                     StudyNotFound)
from triage.studies.leases import CLAIM_LEASE, LeaseHeartbeat
from triage.studies.geometry import MIN_SLICES, SliceGeometry, order_slices, select_stack, slice_geometry
from triage.studies.models import Instance, Series, Study
from triage.studies.uploads import IncomingFile, expand_upload

logger = logging.getLogger(__name__)

SIZE_MISMATCH_MSG = "Image size {rows}x{columns} differs from the rest of its series ({series_rows}x{series_columns})."
DUPLICATE_MSG = "Already received (same SOP Instance UID in this study)."
CORRUPT_PIXELS_MSG = "Pixel data cannot be decoded ({error})."
NO_DECODABLE_MSG = "none of the {count} received images could be decoded"
NO_AXIAL_STACK_MSG = ("no axial CT series with at least {min_slices} slices of one size and orientation "
                      "({count} decodable images received)")
UNEXPECTED_FAILURE_MSG = "Processing failed unexpectedly ({error}); an administrator can reprocess the study."
STORAGE_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)

Status = Study.Status


# --- Upload report -------------------------------------------------------------------

class FileStatus:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass
class FileOutcome:
    """What happened to one uploaded file; ``study`` is the study's uuid when it has one."""

    name: str
    status: str
    reason: str = ""
    study: str | None = None
    position: int = 0  # order in the upload, so the report lists files as they were sent


@dataclass
class UploadReport:
    """Per-file outcomes of one upload, the studies touched, and a note for the uploader."""

    files: list[FileOutcome] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)
    note: str = ""
    queue_unavailable: bool = False
    studies_to_ingest: list[int] = field(default_factory=list)  # ids with new instances (or still received)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def all_rejected(self) -> bool:
        return bool(self.files) and self.count(FileStatus.REJECTED) == len(self.files)


@dataclass
class _StoredFile:
    name: str
    header: CTHeader
    storage_path: str
    sha256: str
    size_bytes: int
    position: int
    kept: bool = False


# --- Receiving files: the one entry point of every upload path ----------------------------

def receive_instances(
    *,
    hospital: Hospital,
    uploaded_by: User | None,
    files: Iterable[IncomingFile],
    source: str,
    now: datetime | None = None,
) -> UploadReport:
    """Validate, store and record uploaded DICOM files (plain or zipped); list the studies to ingest.

    Used by every upload path (web, REST, STOW-RS, C-STORE, demo). ``uploaded_by`` is ``None``
    only for system senders (C-STORE, demo seeding); a user needs an upload role at ``hospital``.
    Each file is checked (:func:`~triage.studies.dicom_headers.read_ct_header`) and stored by
    content hash; all database rows of the upload are written in one transaction and the files
    this call wrote are deleted again if it fails. Files of several studies are split into
    separate studies; instances already received are reported as duplicates (same study).
    ``report.studies_to_ingest`` names the studies the next step (ingest) should take.
    """
    if source not in Study.Source.values:
        raise DomainError(f"Unknown upload source {source!r}.")
    if uploaded_by is not None:
        require_role(user=uploaded_by, hospital=hospital, roles=UPLOAD_ROLES)
    now = now or timezone.now()
    report = UploadReport()
    stored: list[_StoredFile] = []
    written: list[str] = []
    try:
        for position, candidate in enumerate(expand_upload(files)):
            if candidate.data is None:
                report.files.append(FileOutcome(candidate.name, FileStatus.REJECTED, candidate.reason, None, position))
                continue
            try:
                header = read_ct_header(candidate.data)
            except RejectedFile as exc:
                report.files.append(FileOutcome(candidate.name, FileStatus.REJECTED, str(exc), None, position))
                continue
            digest = storage.sha256_of(candidate.data)
            try:
                path, wrote = storage.store_content(hospital_uuid=hospital.uuid, data=candidate.data, sha256=digest)
            except OSError as exc:
                logger.error("studies.storage_write_failed", extra={"errno": exc.errno, "stored": len(written)})
                raise (StorageFull() if exc.errno in STORAGE_FULL_ERRNOS else StorageUnavailable()) from exc
            if wrote:
                written.append(path)
            stored.append(_StoredFile(candidate.name, header, path, digest, len(candidate.data), position))
        with transaction.atomic():
            report.studies_to_ingest = _record_instances(hospital=hospital, uploaded_by=uploaded_by,
                                                         stored=stored, source=source, report=report, now=now)
    except BaseException:
        storage.delete_content(_unreferenced(written))
        raise
    report.files.sort(key=lambda outcome: outcome.position)
    # Files written for rejected or duplicate entries are removed unless some row uses them.
    kept = {f.storage_path for f in stored if f.kept}
    storage.delete_content(_unreferenced([p for p in written if p not in kept]))
    return report


def _unreferenced(paths: list[str]) -> list[str]:
    """Return the paths no Instance row uses (a concurrent upload may share a file by hash)."""
    if not paths:
        return []
    try:
        used = set(Instance.objects.filter(storage_path__in=paths).values_list("storage_path", flat=True))
    except Exception:  # the database itself failed: nothing of ours was committed
        logger.warning("studies.cleanup_without_reference_check", extra={"files": len(paths)})
        return paths
    return [p for p in paths if p not in used]


def _study_for(*, hospital: Hospital, header: CTHeader, uploaded_by: User | None, source: str,
               now: datetime) -> tuple[Study, bool]:
    study, created = Study.objects.get_or_create(
        hospital=hospital,
        study_instance_uid=header.study_instance_uid,
        defaults={
            "accession_number": header.accession_number, "patient_id": header.patient_id,
            "patient_name": header.patient_name, "patient_sex": header.patient_sex,
            "patient_age": header.patient_age, "patient_birth_date": header.patient_birth_date,
            "study_date": header.study_date, "study_description": header.study_description,
            "uploaded_by": uploaded_by, "source": source, "status": Status.RECEIVED, "status_changed_at": now,
        },
    )
    # Serialise concurrent uploads of the same study (duplicate checks below rely on it).
    study = Study.objects.select_for_update().get(pk=study.pk)
    if created:
        record_event(actor=uploaded_by, action=StudyAction.RECEIVED, hospital=hospital, target=study,
                     extra={"source": source, "new": Status.RECEIVED})
        study_changed.send(sender="studies", study=study)
    return study, created


def _series_for(*, study: Study, header: CTHeader, cache: dict[str, Series]) -> Series:
    series = cache.get(header.series_instance_uid)
    if series is None:
        series, _ = Series.objects.get_or_create(
            study=study, series_instance_uid=header.series_instance_uid,
            defaults={
                "modality": "CT", "series_number": header.series_number,
                "series_description": header.series_description, "rows": header.rows, "columns": header.columns,
                "pixel_spacing_row_mm": header.pixel_spacing_mm[0], "pixel_spacing_col_mm": header.pixel_spacing_mm[1],
                "slice_thickness_mm": header.slice_thickness_mm, "kvp": header.kvp,
                "convolution_kernel": header.convolution_kernel,
                "image_orientation_patient": list(header.image_orientation_patient),
                "transfer_syntax_uid": header.transfer_syntax_uid,
            },
        )
        cache[header.series_instance_uid] = series
    return series


def _record_instances(*, hospital: Hospital, uploaded_by: User | None, stored: list[_StoredFile], source: str,
                      report: UploadReport, now: datetime) -> list[int]:
    """Create study/series/instance rows (inside the caller's transaction); return study ids to ingest."""
    by_study: dict[str, list[_StoredFile]] = defaultdict(list)
    for item in stored:
        by_study[item.header.study_instance_uid].append(item)
    to_ingest = []
    for files in by_study.values():
        study, created = _study_for(hospital=hospital, header=files[0].header, uploaded_by=uploaded_by,
                                    source=source, now=now)
        known = set(Instance.objects.filter(series__study=study).values_list("sop_instance_uid", flat=True))
        series_cache: dict[str, Series] = {}
        new_rows: list[Instance] = []
        for item in files:
            header = item.header
            if header.sop_instance_uid in known:
                report.files.append(FileOutcome(item.name, FileStatus.DUPLICATE, DUPLICATE_MSG, str(study.uuid),
                                                item.position))
                continue
            series = _series_for(study=study, header=header, cache=series_cache)
            if (series.rows, series.columns) != (header.rows, header.columns):
                reason = SIZE_MISMATCH_MSG.format(rows=header.rows, columns=header.columns,
                                                  series_rows=series.rows, series_columns=series.columns)
                report.files.append(FileOutcome(item.name, FileStatus.REJECTED, reason, str(study.uuid), item.position))
                continue
            known.add(header.sop_instance_uid)
            item.kept = True
            new_rows.append(Instance(series=series, sop_instance_uid=header.sop_instance_uid,
                                     storage_path=item.storage_path, sha256=item.sha256, size_bytes=item.size_bytes,
                                     instance_number=header.instance_number))
            report.files.append(FileOutcome(item.name, FileStatus.ACCEPTED, "", str(study.uuid), item.position))
        if new_rows:
            Instance.objects.bulk_create(new_rows, batch_size=500)
            for series in series_cache.values():
                Series.objects.filter(pk=series.pk).update(slice_count=series.instances.count())
            study.last_instance_received_at = now
            study.save(update_fields=["last_instance_received_at"])
            record_event(actor=uploaded_by, action=StudyAction.UPLOADED, hospital=hospital, target=study,
                         extra={"source": source, "instances": len(new_rows)})
            if not created and study.status != Status.RECEIVED:
                _reopen_for_new_instances(study=study, actor=uploaded_by, now=now)
        if new_rows or study.status == Status.RECEIVED:
            to_ingest.append(study.id)
        if str(study.uuid) not in report.studies and (new_rows or any(f.study == str(study.uuid) for f in report.files)):
            report.studies.append(str(study.uuid))
    return to_ingest


def _reopen_for_new_instances(*, study: Study, actor: User | None, now: datetime) -> None:
    old = study.status
    Study.objects.filter(pk=study.pk).update(status=Status.RECEIVED, status_changed_at=now, lease_until=None,
                                             failure_reason="")
    study.status = Status.RECEIVED
    record_event(actor=actor, action=StudyAction.RECEIVED, hospital=study.hospital, target=study,
                 extra={"old": old, "new": Status.RECEIVED, "reason": "new_instances"})
    study_changed.send(sender="studies", study=study)


# --- State machine -----------------------------------------------------------------------

def _transition(*, study_id: int, allowed_from: Q, new: str, action: str, actor: User | None = None,
                now: datetime, extra: dict | None = None, **fields) -> Study | None:
    """Apply ``status → new`` if the row still matches ``allowed_from``; audit it; None if not."""
    with transaction.atomic():
        old = Study.objects.filter(id=study_id).values_list("status", flat=True).first()
        if old is None:
            raise StudyNotFound()
        updated = Study.objects.filter(allowed_from, id=study_id).update(status=new, status_changed_at=now, **fields)
        if not updated:
            return None
        study = Study.objects.select_related("hospital").get(id=study_id)
        record_event(actor=actor, action=action, hospital=study.hospital, target=study,
                     extra={"old": old, "new": new} | (extra or {}))
        study_changed.send(sender="studies", study=study)
        return study


def _require_transition(study: Study | None, *, study_id: int, new: str) -> Study:
    """Return ``study``; when the transition did not apply: a silent no-op if already ``new``, else raise."""
    if study is not None:
        return study
    current = Study.objects.get(id=study_id)
    if current.status == new:
        return current
    raise IllegalStudyTransition(old=current.status, new=new)


def claim_study_for_processing(*, study_id: int, lease: timedelta, now: datetime | None = None) -> Study | None:
    """Claim a ``queued`` study (or one whose processing lease expired) for ``lease``; None if not claimable."""
    now = now or timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(status=Status.PROCESSING, lease_until__lt=now)
    try:
        return _transition(study_id=study_id, allowed_from=claimable, new=Status.PROCESSING,
                           action=StudyAction.PROCESSING, now=now, lease_until=now + lease)
    except StudyNotFound:
        logger.info("studies.claim_missing", extra={"study_id": study_id})
        return None


def mark_study_queued(*, study_id: int, now: datetime | None = None, extra: dict | None = None,
                      expect_last_instance_at: datetime | None = None) -> Study:
    """Move ``received → queued`` (ready for analysis); with ``expect_last_instance_at``, only if no instance came since."""
    now = now or timezone.now()
    allowed = Q(status=Status.RECEIVED)
    if expect_last_instance_at is not None:
        allowed &= Q(last_instance_received_at=expect_last_instance_at)
    study = _transition(study_id=study_id, allowed_from=allowed, new=Status.QUEUED, action=StudyAction.QUEUED,
                        now=now, extra=extra, lease_until=None)
    return _require_transition(study, study_id=study_id, new=Status.QUEUED)


def mark_study_ready(*, study_id: int, now: datetime | None = None) -> Study:
    """Move ``processing → ready`` (a no-op if it already is ``ready``)."""
    now = now or timezone.now()
    study = _transition(study_id=study_id, allowed_from=Q(status=Status.PROCESSING), new=Status.READY,
                        action=StudyAction.READY, now=now, lease_until=None)
    return _require_transition(study, study_id=study_id, new=Status.READY)


def mark_study_failed(*, study_id: int, reason: str, now: datetime | None = None) -> Study:
    """Move ``received | queued | processing → failed`` with a readable reason (no patient data)."""
    now = now or timezone.now()
    reason = (reason or "Unknown failure.")[:500]
    active = Q(status__in=[Status.RECEIVED, Status.QUEUED, Status.PROCESSING])
    study = _transition(study_id=study_id, allowed_from=active, new=Status.FAILED, action=StudyAction.FAILED,
                        now=now, extra={"reason": reason}, failure_reason=reason, lease_until=None)
    return _require_transition(study, study_id=study_id, new=Status.FAILED)


def mark_study_failed_after_error(*, study_id: int, error: BaseException) -> Study | None:
    """Fail a study after a task gave up on it; domain errors keep their message, others name their type."""
    reason = error.message if isinstance(error, DomainError) else UNEXPECTED_FAILURE_MSG.format(
        error=type(error).__name__)
    try:
        return mark_study_failed(study_id=study_id, reason=reason)
    except (StudyNotFound, IllegalStudyTransition):
        logger.info("studies.fail_skipped", extra={"study_id": study_id})
        return None


def reprocess_study(*, actor: User, study: Study, now: datetime | None = None) -> Study:
    """Move a ``failed`` or ``ready`` study back to ``queued`` (``received`` when no series was selected).

    Hospital admins only. The returned study's status names the step to run next.
    """
    require_role(user=actor, hospital=study.hospital, roles=ADMIN_ROLES)
    now = now or timezone.now()
    new = Status.QUEUED if study.selected_series_id else Status.RECEIVED
    updated = _transition(study_id=study.id, allowed_from=Q(status__in=[Status.FAILED, Status.READY]), new=new,
                          action=StudyAction.REPROCESSED, actor=actor, now=now, failure_reason="",
                          lease_until=None)
    if updated is None:
        raise IllegalStudyTransition(old=Study.objects.get(id=study.id).status, new=Status.QUEUED)
    return updated


def requeue_ready_studies(*, actor: User | None, action: str, now: datetime | None = None) -> list[int]:
    """Move every ``ready`` study back to ``queued`` (e.g. for a new model), auditing ``action``; return their ids."""
    now = now or timezone.now()
    requeued = []
    for study_id in Study.objects.filter(status=Status.READY).values_list("id", flat=True).iterator():
        if _transition(study_id=study_id, allowed_from=Q(status=Status.READY), new=Status.QUEUED, action=action,
                       actor=actor, now=now, lease_until=None) is not None:
            requeued.append(study_id)
    return requeued


# --- Ingest step (runs on the ingest queue) ------------------------------------------------

def _decode_instance(instance: Instance) -> tuple[SliceGeometry | None, str]:
    """Read one stored file, decode its pixels fully once; return its geometry or the decode error.

    The header passed every upload check already, so only the geometry is read here.
    """
    try:
        ds = read_dataset(storage.read_content(instance.storage_path))
        geometry = slice_geometry(ds, instance_id=instance.id, series_id=instance.series_id)
        pixels = ds.pixel_array
        if pixels.shape != (geometry.rows, geometry.columns):
            raise ValueError(f"pixel array shape {pixels.shape}")
    except FileNotFoundError:
        return None, "The stored file is missing."
    except StorageOffline:
        raise  # the store is down, the file is fine: the task retries
    except RejectedFile as exc:
        return None, str(exc)
    except BaseException as exc:  # pydicom/numpy raise many types on corrupt pixel data; Rust decoders panic
        if not is_decoder_failure(exc):
            raise
        return None, CORRUPT_PIXELS_MSG.format(error=type(exc).__name__)[:300]
    return geometry, ""


class AfterIngest(enum.Enum):
    """What the ingest step asks for next."""

    ANALYSE = "analyse"            # the study is queued for analysis
    INGEST_AGAIN = "ingest_again"  # instances arrived meanwhile: the claim was released
    NOTHING = "nothing"            # missing, past received, or claimed by another worker


@dataclass(frozen=True)
class IngestOutcome:
    next_step: AfterIngest
    study: Study | None = None  # the queued study, for ANALYSE


def ingest_study(*, study_id: int, now: datetime | None = None) -> IngestOutcome:
    """Decode a ``received`` study, select and order its axial CT series, move it to ``queued``.

    Claims the study with a lease (a conditional update), so a duplicate or re-delivered task
    does nothing: the outcome is ``NOTHING`` when the study is missing, past ``received`` or
    held by another worker. Every instance is decoded once; undecodable ones keep their reason in
    ``Instance.decode_error``. Series choice and slice order follow
    :mod:`triage.studies.geometry`. Raises :class:`NoUsableSeries` when nothing can be
    analysed (the task's failure hook then marks the study failed with that message).
    If instances arrived while it ran, the claim is released and the outcome asks to ingest again.
    """
    now = now or timezone.now()
    lease_until = now + CLAIM_LEASE
    claimable = Q(status=Status.RECEIVED) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if not Study.objects.filter(claimable, id=study_id).update(lease_until=lease_until):
        logger.info("studies.ingest_skipped", extra={"study_id": study_id})
        return IngestOutcome(AfterIngest.NOTHING)
    heartbeat = LeaseHeartbeat(study_id=study_id, lease_until=lease_until)
    try:
        with heartbeat:  # a short lease, renewed while this worker lives (triage/studies/leases.py)
            return _ingest_claimed(study_id=study_id)
    except (OperationalError, StorageOffline):
        release_claim_after_transient_error(study_id=study_id, lease_until=heartbeat.lease_until)
        raise


def release_claim_after_transient_error(*, study_id: int, lease_until: datetime, attempts: int = 5,
                                        wait_s: float = 1.0) -> bool:
    """End this worker's own claim (the lease it set to ``lease_until``) so the task's retry can take it at once.

    Without this a retry after a database restart finds its own claim still valid and waits for
    it to expire (15 min ingest, 30 min analysis). Best effort: the database may still be down,
    and then the lease runs out as a dead worker's would. A claim taken over since is left alone.
    """
    for attempt in range(attempts):
        try:
            if not connection.in_atomic_block:
                connection.close()  # the broken connection; the query below opens a new one
            Study.objects.filter(id=study_id, lease_until=lease_until).update(lease_until=timezone.now())
            return True
        except DatabaseError:
            time.sleep(wait_s)
    logger.warning("studies.claim_release_failed", extra={"study_id": study_id})
    return False


def _ingest_claimed(*, study_id: int) -> IngestOutcome:
    study = Study.objects.get(id=study_id)
    snapshot = study.last_instance_received_at
    instances = list(Instance.objects.filter(series__study=study).order_by("id"))
    geometries, errors = [], {}
    for instance in instances:
        geometry, error = _decode_instance(instance)
        if geometry is None:
            errors[instance.id] = error
        else:
            geometries.append(geometry)
    stack = select_stack(geometries)
    with transaction.atomic():
        for instance in instances:
            instance.decode_error = errors.get(instance.id, "")
        Instance.objects.bulk_update(instances, ["decode_error"], batch_size=500)
        if stack is None:
            Study.objects.filter(id=study_id).update(lease_until=None)
    if stack is None:
        detail = (NO_DECODABLE_MSG.format(count=len(instances)) if not geometries
                  else NO_AXIAL_STACK_MSG.format(min_slices=MIN_SLICES, count=len(geometries)))
        raise NoUsableSeries(detail)
    ordered = order_slices(stack)
    with transaction.atomic():
        # The stored order: a position for each slice of the chosen stack, none for any other
        # instance (a stack chosen by an earlier ingest must not linger in the order).
        z_by_id = dict(zip(ordered.instance_ids, ordered.z_positions_mm))
        for instance in instances:
            instance.z_position_mm = z_by_id.get(instance.id)
        Instance.objects.bulk_update(instances, ["z_position_mm"], batch_size=500)
        Series.objects.filter(study_id=study_id, is_selected=True).update(is_selected=False)
        series = Series.objects.get(id=ordered.series_id)
        series.is_selected = True
        series.spacing_between_slices_mm = ordered.spacing_between_slices_mm
        series.save(update_fields=["is_selected", "spacing_between_slices_mm"])
        Study.objects.filter(id=study_id).update(selected_series=series)
        try:
            queued = mark_study_queued(
                study_id=study_id, expect_last_instance_at=snapshot,
                extra={"series": str(series.uuid), "slices": len(ordered.instance_ids),
                       "ordered_by": ordered.ordered_by, "undecodable": len(errors)},
            )
            return IngestOutcome(AfterIngest.ANALYSE, queued)
        except IllegalStudyTransition:
            pass
    # New instances arrived meanwhile (or the study changed state): release and ingest again.
    if Study.objects.filter(id=study_id, status=Status.RECEIVED).update(lease_until=None):
        return IngestOutcome(AfterIngest.INGEST_AGAIN)
    return IngestOutcome(AfterIngest.NOTHING)
