"""DICOM status codes for rejected instances and the STOW-RS response body (PS3.18 10.5.3); pure.

Rejection reasons come from ingestion as sentences (message constants of
:mod:`triage.studies.dicom_headers` and :mod:`triage.studies.uploads`); :func:`failure_status_for`
maps them onto the codes that both STOW-RS (FailureReason (0008,1197)) and C-STORE (the
response Status) use:

- ``0xA700`` *Out of resources*: the instance is larger than one instance may be.
- ``0xA900`` *Data set does not match SOP class*: DICOM, but not an instance we accept (wrong
  SOP class or modality, a required attribute missing, unsupported image shape or encoding),
  or an instance of another study than the STOW-RS target study.
- ``0xC000`` *Cannot understand*: not DICOM, truncated or corrupt, or a non-DICOM part.
- ``0x0110`` *Processing failure*: anything else.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from triage.studies import dicom_headers, uploads

OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110
DICOM_JSON_MEDIA_TYPE = "application/dicom+json"
MAX_ERROR_COMMENT_CHARS = 64  # VR LO
MAX_WARNINGS = 20

_CANNOT_UNDERSTAND = (dicom_headers.NOT_DICOM_MSG, dicom_headers.TRUNCATED_MSG, uploads.BAD_ZIP_MSG,
                      uploads.NESTED_ZIP_MSG)
_OUT_OF_RESOURCES = (uploads.ENTRY_TOO_LARGE_MSG, uploads.ZIP_TOO_LARGE_MSG)
_DOES_NOT_MATCH = tuple(
    getattr(dicom_headers, name) for name in dir(dicom_headers)
    if name.endswith("_MSG") and getattr(dicom_headers, name) not in _CANNOT_UNDERSTAND
)


def _matches(reason: str, template: str) -> bool:
    """True when ``reason`` was formatted from ``template`` (compared up to its first field)."""
    return reason.startswith(template.split("{", 1)[0])


def failure_status_for(reason: str) -> int:
    """Return the DICOM failure status for an ingestion rejection reason."""
    if any(_matches(reason, t) for t in _CANNOT_UNDERSTAND):
        return CANNOT_UNDERSTAND
    if any(_matches(reason, t) for t in _OUT_OF_RESOURCES):
        return OUT_OF_RESOURCES
    if any(_matches(reason, t) for t in _DOES_NOT_MATCH):
        return DATA_SET_DOES_NOT_MATCH_SOP_CLASS
    return PROCESSING_FAILURE


@dataclass(frozen=True)
class InstanceOutcome:
    """One instance of a STOW-RS request: stored, or failed with a DICOM failure reason."""

    sop_class_uid: str
    sop_instance_uid: str
    failure_reason: int | None = None
    message: str = ""

    @property
    def stored(self) -> bool:
        return self.failure_reason is None


def _reference(outcome: InstanceOutcome) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = outcome.sop_class_uid or None  # (0008,1150)
    item.ReferencedSOPInstanceUID = outcome.sop_instance_uid or None  # (0008,1155)
    if outcome.failure_reason is not None:
        item.FailureReason = outcome.failure_reason  # (0008,1197)
        item.ErrorComment = outcome.message[:MAX_ERROR_COMMENT_CHARS] or None  # (0000,0902), LO
    return item


def stow_response(outcomes: list[InstanceOutcome]) -> dict:
    """Return the STOW-RS response as DICOM JSON: (0008,1199) stored and (0008,1198) failed instances."""
    response = Dataset()
    response.FailedSOPSequence = DicomSequence([_reference(o) for o in outcomes if not o.stored])
    response.ReferencedSOPSequence = DicomSequence([_reference(o) for o in outcomes if o.stored])
    return dicom_json(response)


def dicom_json(dataset: Dataset, **options) -> dict:
    """Return ``dataset`` as DICOM JSON (PS3.18 F.2), where an empty attribute has no "Value" member."""
    body = dataset.to_json_dict(**options)
    for attribute in body.values():
        if attribute.get("Value") == []:
            del attribute["Value"]
    return body


def stow_http_status(outcomes: list[InstanceOutcome]) -> int:
    """200 when every instance was stored, 409 when none was, 202 when some failed."""
    failed = sum(1 for o in outcomes if not o.stored)
    if failed == 0:
        return 200
    return 409 if failed == len(outcomes) else 202


def stow_warning(outcomes: list[InstanceOutcome]) -> str:
    """Return a ``Warning`` header value: one ``299 - "<reason>"`` per distinct failure reason, or ``""``.

    Each value names the FailureReason and how many instances failed so; the text is the
    full reason (ErrorComment holds at most 64 characters of it).
    """
    counts: dict[tuple[int, str], int] = {}
    for outcome in outcomes:
        if not outcome.stored:
            key = (outcome.failure_reason, outcome.message or "No reason given.")
            counts[key] = counts.get(key, 0) + 1
    values = []
    for (code, message), count in list(counts.items())[:MAX_WARNINGS]:
        text = f"{count} instance{'s' if count > 1 else ''} failed with 0x{code:04X}: {message}"
        quoted = text.replace("\\", "\\\\").replace('"', '\\"').encode("latin-1", "replace").decode("latin-1")
        values.append(f'299 - "{quoted}"')
    return ", ".join(values)
