"""Where overlay images lie in the object store (:mod:`triage.core.object_store`), and how they get there.

An image lives at ``overlays/<hospital uuid>/<sha256[:2]>/<sha256>.png``: stored once per
hospital and content, never shared across hospitals. A writer holds the store lock shared
(:func:`~triage.core.object_store.lock_store_for_writing`) from its first put until its rows
commit, so the collector never deletes an image an uncommitted row is about to reuse.
"""
from __future__ import annotations

from triage.core.object_store import put_bytes, sha256_of

PREFIX = "overlays/"


def overlay_key(*, hospital_uuid, sha256: str) -> str:
    return f"{PREFIX}{hospital_uuid}/{sha256[:2]}/{sha256}.png"


def store_overlay_images(*, hospital_uuid, png: bytes, heatmap: bytes | None) -> dict:
    """Put an overlay's PNG (and raw heatmap, if any) in the store; return the Overlay fields naming them.

    Call inside the transaction that writes the row, after ``lock_store_for_writing()``.
    """
    fields = {}
    for name, data in (("png", png), ("heatmap", heatmap)):
        if not data:
            fields |= {f"{name}_key": "", f"{name}_sha256": "", f"{name}_size_bytes": None}
            continue
        digest = sha256_of(data)
        key = overlay_key(hospital_uuid=hospital_uuid, sha256=digest)
        put_bytes(key, data)
        fields |= {f"{name}_key": key, f"{name}_sha256": digest, f"{name}_size_bytes": len(data)}
    return fields
