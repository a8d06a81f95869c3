"""Where study files and analysis hand-offs lie in the object store (:mod:`triage.core.object_store`).

A file lives at ``<hospital uuid>/<sha256[:2]>/<sha256>.dcm``: client file names never reach
the store, identical files are stored once per hospital, and no key is shared across
hospitals. Both backends publish atomically, so no reader and no later upload ever sees a
partly written file.
"""
from __future__ import annotations

from triage.core.object_store import put_bytes, sha256_of


def content_path(*, hospital_uuid, sha256: str) -> str:
    return f"{hospital_uuid}/{sha256[:2]}/{sha256}.dcm"


def store_content(*, hospital_uuid, data: bytes, sha256: str) -> tuple[str, bool]:
    """Store ``data`` under its hash; return the path and whether this call wrote the file.

    Whether the writer died, the disk filled up (the ``OSError`` propagates, nothing is left),
    the object store went away (``StorageOffline``) or two uploads of the same content raced,
    nothing partly written is ever published.
    """
    path = content_path(hospital_uuid=hospital_uuid, sha256=sha256)
    return path, put_bytes(path, data)


def analysis_blob_path(*, hospital_uuid, sha256: str) -> str:
    return f"analysis/{hospital_uuid}/{sha256[:2]}/{sha256}.npz"


def store_analysis_blob(*, hospital_uuid, data: bytes) -> str:
    """Store one analysis stage's output for the next stage (on another worker); return its key.

    Content-addressed like study files, so a stage run twice (a redelivered message) stores
    its output once; the finishing stage deletes it (:func:`~triage.core.object_store.delete_content`).
    """
    path = analysis_blob_path(hospital_uuid=hospital_uuid, sha256=sha256_of(data))
    put_bytes(path, data)
    return path
