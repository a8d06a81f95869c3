"""Every write of the DICOM gateway: DICOM nodes, and STOW-RS / C-STORE hand-offs to ingestion.

Both network paths end in :func:`triage.pipeline.services.receive_upload`, the single ingest
entry point, with ``source="stow"`` or ``source="cstore"``; it validates, stores, audits and
enqueues. The hospital is never read from the instances:

- STOW-RS: from the caller's hospital-bound API token (``user.token_hospital_id``); the token's
  user must hold an upload role (radiologist, clinician or admin) at that hospital.
- C-STORE: from the :class:`~triage.gateway.models.DicomNode` of the association's calling AE
  title, which must be active; the sender is a system actor (``uploaded_by=None``).
"""
from __future__ import annotations

import io
import logging
import mmap
from collections.abc import Iterable, Iterator

import pydicom
from django.db import IntegrityError, transaction

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.gateway import dicomweb
from triage.gateway.audit_actions import GatewayAction
from triage.gateway.dicomweb import InstanceOutcome
from triage.gateway.echo import EchoResult, c_echo
from triage.gateway.exceptions import AE_TITLE_TAKEN_MSG, NO_PARTS_MSG
from triage.gateway.models import DicomNode
from triage.gateway.multipart import iter_parts
from triage.pipeline.services import receive_upload
from triage.studies.services.receiving import FileStatus, UploadReport
from triage.studies.uploads import MAX_FILE_BYTES, ZIP_MAGIC, IncomingFile

logger = logging.getLogger(__name__)

DICOM_MEDIA_TYPE = "application/dicom"
BINARY_ENCODINGS = ("", "binary", "8bit", "7bit")
NOT_DICOM_PART_MSG = "Part is not application/dicom."
OTHER_STUDY_MSG = "Instance belongs to another study than the target study of this request."
PART_TOO_LARGE_MSG = "Part is larger than one DICOM instance may be."
NOT_REPORTED_MSG = "Ingestion did not report on this part."
ECHO_ADDRESS_HALF_MSG = "Give both the host and the port where the node answers C-ECHO, or neither."
NO_ECHO_ADDRESS_MSG = "{ae_title} has no host and port to test: add where it answers C-ECHO first."


# --- DICOM nodes -------------------------------------------------------------------------

@transaction.atomic
def create_dicom_node(*, actor: User, hospital: Hospital, ae_title: str, description: str = "",
                      host: str = "", port: int | None = None) -> DicomNode:
    """Map a calling AE title to ``hospital`` (hospital admins only); ``host``/``port`` only for C-ECHO."""
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    ae_title = ae_title.strip()
    if DicomNode.objects.filter(ae_title=ae_title).exists():
        raise DomainError(AE_TITLE_TAKEN_MSG, extra={"field": "ae_title"})
    node = DicomNode(hospital=hospital, ae_title=ae_title, description=description, host=host.strip(), port=port)
    _check_echo_address(node)
    node.full_clean()
    try:
        with transaction.atomic():
            node.save()
    except IntegrityError as exc:  # a concurrent create of the same title
        raise DomainError(AE_TITLE_TAKEN_MSG, extra={"field": "ae_title"}) from exc
    record_event(actor=actor, action=GatewayAction.NODE_CREATED, hospital=hospital, target=node,
                 extra={"ae_title": ae_title, **({"host": node.host, "port": node.port} if node.host else {})})
    return node


def _check_echo_address(node: DicomNode) -> None:
    if bool(node.host) != (node.port is not None):
        raise DomainError(ECHO_ADDRESS_HALF_MSG, extra={"field": "host" if not node.host else "port"})


@transaction.atomic
def set_dicom_node_echo_address(*, actor: User, node: DicomNode, host: str, port: int | None) -> DicomNode:
    """Set (or clear, with ``""``/``None``) where the node answers C-ECHO."""
    require_role(user=actor, hospital=node.hospital, roles=ADMIN_ROLES)
    old = {"host": node.host, "port": node.port}
    node.host, node.port = host.strip(), port
    _check_echo_address(node)
    node.full_clean()
    node.save(update_fields=["host", "port"])
    record_event(actor=actor, action=GatewayAction.NODE_ECHO_ADDRESS_SET, hospital=node.hospital, target=node,
                 extra={"ae_title": node.ae_title, "old": old, "new": {"host": node.host, "port": node.port}})
    return node


def echo_dicom_node(*, actor: User, node: DicomNode) -> EchoResult:
    """C-ECHO the node at its given address, calling it by its AE title; audit the test."""
    require_role(user=actor, hospital=node.hospital, roles=ADMIN_ROLES)
    if not node.host:
        return EchoResult(False, NO_ECHO_ADDRESS_MSG.format(ae_title=node.ae_title))
    result = c_echo(host=node.host, port=node.port, called_ae=node.ae_title)
    record_event(actor=actor, action=GatewayAction.NODE_ECHOED, hospital=node.hospital, target=node,
                 extra={"ok": result.ok, "message": result.message})
    return result


@transaction.atomic
def deactivate_dicom_node(*, actor: User, node: DicomNode) -> DicomNode:
    """Stop accepting associations from the node's AE title; a no-op when already inactive."""
    require_role(user=actor, hospital=node.hospital, roles=ADMIN_ROLES)
    if not node.is_active:
        return node
    node.is_active = False
    node.save(update_fields=["is_active"])
    record_event(actor=actor, action=GatewayAction.NODE_DEACTIVATED, hospital=node.hospital, target=node,
                 extra={"ae_title": node.ae_title, "is_active": {"old": True, "new": False}})
    return node


# --- STOW-RS -----------------------------------------------------------------------------

def _identity(data: bytes) -> tuple[str, str, str]:
    """Return (SOP Class UID, SOP Instance UID, Study Instance UID) as far as they can be read."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True,
                             specific_tags=["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"])
        return tuple(str(ds.get(k, "") or "").strip() for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"))
    except Exception:  # noqa: BLE001 - unreadable parts are rejected by ingestion with their reason
        return "", "", ""


def _precheck_part(part, data: bytes | None, *, study_instance_uid: str | None,
                   identity: tuple[str, str, str]) -> tuple[int, str] | None:
    """Return (failure reason, message) for a part refused before ingestion, else ``None``."""
    if part.content_type not in ("", DICOM_MEDIA_TYPE):
        return dicomweb.CANNOT_UNDERSTAND, NOT_DICOM_PART_MSG
    if part.headers.get("content-transfer-encoding", "").lower() not in BINARY_ENCODINGS:
        return dicomweb.CANNOT_UNDERSTAND, NOT_DICOM_PART_MSG
    if data is None:
        return dicomweb.OUT_OF_RESOURCES, PART_TOO_LARGE_MSG
    if data.startswith(ZIP_MAGIC):
        return dicomweb.CANNOT_UNDERSTAND, NOT_DICOM_PART_MSG
    if study_instance_uid is not None and identity[2] != study_instance_uid:
        return dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, OTHER_STUDY_MSG
    return None


def store_stow_instances(
    *, user: User, hospital: Hospital, body: mmap.mmap | bytes, boundary: str,
    study_instance_uid: str | None = None,
) -> list[InstanceOutcome]:
    """Ingest each ``application/dicom`` part of a STOW-RS body; return one outcome per part, in order.

    Parts are handed to ingestion one at a time. A part that is not DICOM, too large, or (with
    ``study_instance_uid``, the ``/studies/{uid}`` form) of another study is refused here;
    everything else is judged by ingestion. A duplicate (same SOP Instance UID already in the
    study) counts as stored: re-sending is harmless.
    """
    parts = list(iter_parts(body, boundary=boundary))
    if not parts:
        raise DomainError(NO_PARTS_MSG)
    names = [f"part-{index:05d}" for index in range(1, len(parts) + 1)]
    identities: dict[str, tuple[str, str, str]] = {}
    refused: dict[str, InstanceOutcome] = {}

    def accepted_parts() -> Iterator[IncomingFile]:
        for name, part in zip(names, parts):
            data = bytes(body[part.start:part.end]) if part.size_bytes <= MAX_FILE_BYTES else None
            identity = identities[name] = _identity(data) if data is not None else ("", "", "")
            failure = _precheck_part(part, data, study_instance_uid=study_instance_uid, identity=identity)
            if failure is not None:
                refused[name] = InstanceOutcome(identity[0], identity[1], *failure)
                continue
            yield IncomingFile(name=name, stream=io.BytesIO(data))

    report = receive_upload(hospital=hospital, uploaded_by=user, files=accepted_parts(), source="stow")
    return _outcomes(names=names, identities=identities, refused=refused, report=report)


def _outcomes(*, names: list[str], identities: dict[str, tuple[str, str, str]], refused: dict[str, InstanceOutcome],
              report: UploadReport) -> list[InstanceOutcome]:
    by_name = {f.name: f for f in report.files}
    outcomes = []
    for name in names:
        if name in refused:
            outcomes.append(refused[name])
            continue
        sop_class, sop_instance, _ = identities[name]
        file = by_name.get(name)
        if file is None:
            outcomes.append(InstanceOutcome(sop_class, sop_instance, dicomweb.PROCESSING_FAILURE, NOT_REPORTED_MSG))
        elif file.status == FileStatus.REJECTED:
            outcomes.append(InstanceOutcome(sop_class, sop_instance, dicomweb.failure_status_for(file.reason),
                                            file.reason))
        else:
            outcomes.append(InstanceOutcome(sop_class, sop_instance))
    return outcomes


# --- C-STORE -----------------------------------------------------------------------------

def receive_cstore_study(*, node: DicomNode, files: Iterable[IncomingFile]) -> UploadReport:
    """Hand instances received by C-STORE from ``node`` to ingestion, into the node's hospital."""
    report = receive_upload(hospital=node.hospital, uploaded_by=None, files=files, source="cstore")
    logger.info("gateway.cstore_handoff", extra={"node": str(node.uuid), "studies": report.studies,
                                                   "accepted": report.count(FileStatus.ACCEPTED),
                                                   "rejected": report.count(FileStatus.REJECTED)})
    return report
