"""Receive uploaded files: the one entry point of every upload path, and its per-file report.

A step service: it returns what it did and never enqueues; :mod:`triage.pipeline.services`
decides (after commit) what runs next. New instances arriving for a study that is past
``received`` re-open it (back to ``received``), so it is ingested again with all its slices.
"""
from __future__ import annotations

import errno
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import UPLOAD_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.core.signals import study_changed
from triage.core import object_store
from triage.studies import storage
from triage.studies.audit_actions import StudyAction
from triage.studies.dicom_headers import CTHeader, RejectedFile, read_ct_header
from triage.studies.exceptions import StorageFull, StorageUnavailable
from triage.studies.models import Instance, Series, Study
from triage.studies.uploads import IncomingFile, expand_upload

logger = logging.getLogger(__name__)

SIZE_MISMATCH_MSG = "Image size {rows}x{columns} differs from the rest of its series ({series_rows}x{series_columns})."
DUPLICATE_MSG = "Already received (same SOP Instance UID in this study)."
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
    this call wrote are deleted again if it fails, unless a concurrent upload's rows use them
    (re-checked under the store lock, :func:`~triage.core.object_store.delete_unreferenced`).
    Files of several studies are split into separate studies; instances already received are
    reported as duplicates (same study).
    ``report.studies_to_ingest`` names the studies the next step (ingest) should take.
    """
    if source not in Study.Source.values:
        raise DomainError(f"Unknown upload source {source!r}.")
    if uploaded_by is not None:
        require_role(user=uploaded_by, hospital=hospital, roles=UPLOAD_ROLES)
    now = now or timezone.now()
    report = UploadReport()
    written: list[str] = []
    try:
        # Shared store lock from the first put to the commit: an undo (here or in a concurrent
        # upload of the same content) re-checks references only once no writer is in between.
        with object_store.writing_across_transactions():
            stored = _store_files(hospital=hospital, files=files, report=report, written=written)
            with transaction.atomic():
                report.studies_to_ingest = _record_instances(hospital=hospital, uploaded_by=uploaded_by,
                                                             stored=stored, source=source, report=report, now=now)
    except BaseException:
        _discard(written)
        raise
    report.files.sort(key=lambda outcome: outcome.position)
    # Files written for rejected or duplicate entries are removed unless some row uses them.
    kept = {f.storage_path for f in stored if f.kept}
    _discard([p for p in written if p not in kept])
    return report


def _store_files(*, hospital: Hospital, files: Iterable[IncomingFile], report: UploadReport,
                 written: list[str]) -> list[_StoredFile]:
    """Check and store each file by content hash; report rejects; append the paths this call wrote to ``written``."""
    stored: list[_StoredFile] = []
    for position, candidate in enumerate(expand_upload(files)):
        if candidate.data is None:
            report.files.append(FileOutcome(candidate.name, FileStatus.REJECTED, candidate.reason, None, position))
            continue
        try:
            header = read_ct_header(candidate.data)
        except RejectedFile as exc:
            report.files.append(FileOutcome(candidate.name, FileStatus.REJECTED, str(exc), None, position))
            continue
        digest = object_store.sha256_of(candidate.data)
        try:
            path, wrote = storage.store_content(hospital_uuid=hospital.uuid, data=candidate.data, sha256=digest)
        except OSError as exc:
            logger.error("studies.storage_write_failed", extra={"errno": exc.errno, "stored": len(written)})
            raise (StorageFull() if exc.errno in STORAGE_FULL_ERRNOS else StorageUnavailable()) from exc
        if wrote:
            written.append(path)
        stored.append(_StoredFile(candidate.name, header, path, digest, len(candidate.data), position))
    return stored


def _referenced_paths(paths: list[str]) -> set[str]:
    return set(Instance.objects.filter(storage_path__in=paths).values_list("storage_path", flat=True))


def _discard(paths: list[str]) -> None:
    """Delete the files this upload wrote that no Instance row uses (a concurrent upload may share one by hash)."""
    try:
        object_store.delete_unreferenced(paths, referenced=_referenced_paths)
    except Exception:  # the database itself failed: without the re-check, keeping the files is the safe side
        logger.warning("studies.cleanup_skipped", extra={"files": len(paths)})


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
