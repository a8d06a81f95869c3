"""Content-addressed storage of DICOM files through Django's default storage.

A file lives at ``<hospital uuid>/<sha256[:2]>/<sha256>.dcm``: client file names never reach
the filesystem, identical files are stored once per hospital, and no path is shared across
hospitals.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)


def content_path(*, hospital_uuid, sha256: str) -> str:
    return f"{hospital_uuid}/{sha256[:2]}/{sha256}.dcm"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_content(*, hospital_uuid, data: bytes, sha256: str) -> tuple[str, bool]:
    """Store ``data`` under its hash; return the path and whether this call wrote the file.

    On a filesystem the bytes go to a private temporary file first and are published with a
    hard link (or, over a file of the wrong size left by an older writer, an atomic rename), so
    no reader and no later upload ever sees a partly written file, whether the writer died,
    the disk filled up (the ``OSError`` propagates, nothing is left) or two uploads of the same
    content raced. Storages without local paths write whole objects and are used as they are.
    """
    path = content_path(hospital_uuid=hospital_uuid, sha256=sha256)
    try:
        local = Path(default_storage.path(path))
    except NotImplementedError:
        local = None
    if local is None:
        if default_storage.exists(path):
            return path, False
        saved = default_storage.save(path, ContentFile(data))
        if saved != path:  # a concurrent writer stored the same content first
            default_storage.delete(saved)
            return path, False
        return path, True
    if local.is_file() and local.stat().st_size == len(data):
        return path, False
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(f".{local.name}.{uuid.uuid4().hex}.part")
    try:
        with open(partial, "xb") as handle:
            handle.write(data)
        try:
            os.link(partial, local)
            return path, True
        except FileExistsError:
            if local.stat().st_size == len(data):
                return path, False  # a concurrent upload published the same content
            logger.warning("studies.storage_partial_file_replaced", extra={"path": path})
            os.replace(partial, local)
            return path, True
    finally:
        partial.unlink(missing_ok=True)


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
