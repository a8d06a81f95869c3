"""Content-addressed storage of DICOM files through Django's default storage.

A file lives at ``<hospital uuid>/<sha256[:2]>/<sha256>.dcm``: client file names never reach
the filesystem, identical files are stored once per hospital, and no path is shared across
hospitals.
"""
from __future__ import annotations

import hashlib
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)


def content_path(*, hospital_uuid, sha256: str) -> str:
    return f"{hospital_uuid}/{sha256[:2]}/{sha256}.dcm"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_content(*, hospital_uuid, data: bytes, sha256: str) -> tuple[str, bool]:
    """Store ``data`` under its hash; return the path and whether this call wrote the file.

    A file already there with the wrong size (left by a writer that died or hit a full disk) is
    replaced. On a write error (``OSError``, e.g. ENOSPC) the partly written file is removed
    before the error propagates, so a later upload never trusts it.
    """
    path = content_path(hospital_uuid=hospital_uuid, sha256=sha256)
    if default_storage.exists(path):
        if default_storage.size(path) == len(data):
            return path, False
        logger.warning("studies.storage_partial_file_replaced", extra={"path": path})
        default_storage.delete(path)
    try:
        saved = default_storage.save(path, ContentFile(data))
    except OSError:
        _delete_if_incomplete(path, size=len(data))
        raise
    if saved != path:  # a concurrent writer stored the same content first
        default_storage.delete(saved)
        return path, False
    return path, True


def _delete_if_incomplete(path: str, *, size: int) -> None:
    try:
        if default_storage.exists(path) and default_storage.size(path) != size:
            default_storage.delete(path)
    except OSError:
        logger.warning("studies.storage_cleanup_failed", extra={"path": path})


def read_content(path: str) -> bytes:
    with default_storage.open(path, "rb") as handle:
        return handle.read()


def delete_content(paths: list[str]) -> None:
    """Delete files (best effort): used to undo the writes of a failed upload."""
    for path in paths:
        try:
            default_storage.delete(path)
        except OSError:
            logger.warning("studies.storage_cleanup_failed", extra={"path": path})
