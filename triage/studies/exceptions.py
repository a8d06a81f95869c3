"""Narrow errors of the studies app; messages are constants and never contain patient data."""
from triage.core.exceptions import Conflict, DomainError, NotFound, ServiceUnavailable

ILLEGAL_TRANSITION_MSG = "A study cannot go from {old} to {new}."
STUDY_NOT_FOUND_MSG = "Study not found."
NO_FILES_MSG = "No files were uploaded."
UPLOAD_TOO_LARGE_MSG = "Upload is larger than the limit of {limit_mb} MB; split it into smaller uploads."
NOTHING_ACCEPTED_MSG = "No file of this upload was accepted."
NO_USABLE_SERIES_MSG = "No usable axial CT series: {detail}"
STORAGE_FULL_MSG = ("The image store is full; nothing of this upload was kept. "
                    "Try again later and tell your administrator.")
NO_SELECTED_SERIES_MSG = "The study has no CT series selected for analysis; re-upload or reprocess it."
UNREADABLE_SERIES_MSG = "The selected series could not be read as a CT volume: {error}"
STORAGE_UNAVAILABLE_MSG = "The image store could not be written; nothing of this upload was kept. Try again later."


class StudyNotFound(NotFound):
    """The study does not exist or belongs to a hospital the user cannot see."""

    def __init__(self):
        super().__init__(STUDY_NOT_FOUND_MSG)


class IllegalStudyTransition(Conflict):
    """The study's current status does not allow the requested change."""

    def __init__(self, *, old: str, new: str):
        super().__init__(ILLEGAL_TRANSITION_MSG.format(old=old, new=new), extra={"status": old})


class UploadTooLarge(DomainError):
    status_code = 413

    def __init__(self, *, limit_bytes: int):
        super().__init__(UPLOAD_TOO_LARGE_MSG.format(limit_mb=limit_bytes // 1024**2),
                         extra={"limit_bytes": limit_bytes})


class NoUsableSeries(DomainError):
    """Ingest found no CT series it can analyse; the study becomes ``failed`` with this message."""

    status_code = 422

    def __init__(self, detail: str):
        super().__init__(NO_USABLE_SERIES_MSG.format(detail=detail))


class StorageUnavailable(ServiceUnavailable):
    """Writing an uploaded file to the image store failed (503); the upload was undone."""

    def __init__(self, message: str = STORAGE_UNAVAILABLE_MSG):
        super().__init__(message)


class StorageFull(StorageUnavailable):
    """The image store has no space left (507 Insufficient Storage); the upload was undone."""

    status_code = 507

    def __init__(self):
        super().__init__(STORAGE_FULL_MSG)


class UnreadableSeries(DomainError):
    """The selected series' pixel data cannot be turned into a HU volume."""
