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
    """Store ``data`` under its hash; return the path and whether this call wrote the file."""
    path = content_path(hospital_uuid=hospital_uuid, sha256=sha256)
    if default_storage.exists(path):
        return path, False
    saved = default_storage.save(path, ContentFile(data))
    if saved != path:  # a concurrent writer stored the same content first
        default_storage.delete(saved)
        return path, False
    return path, True


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
