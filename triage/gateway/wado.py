"""WADO-RS (PS3.18 10.4) bodies: instances, metadata, frames and rendered images; pure, no database.

Media types and transfer syntaxes (PS3.18 8.7):

- instances: ``multipart/related; type="application/dicom"``, as stored with
  ``transfer-syntax=*``, otherwise (and by default) Explicit VR Little Endian
  (1.2.840.10008.1.2.1), decompressing a compressed instance when asked for that;
- frames: ``multipart/related; type="application/octet-stream"``, the native (uncompressed,
  little-endian) pixel bytes of each frame;
- metadata: ``application/dicom+json``, every attribute but the pixel data, which is a
  ``BulkDataURI`` to the instance's frame 1;
- rendered: ``image/png`` (default) or ``image/jpeg``, windowed with the ``window=center,width``
  parameter, else the instance's own Window Center/Width (0028,1050)/(0028,1051), else the
  lung window.
"""
from __future__ import annotations

import io
import secrets
from collections.abc import Iterable, Iterator

import numpy as np
import pydicom
from django.utils.http import parse_header_parameters
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from triage.core.exceptions import DomainError, NotFound
from triage.gateway.dicomweb import dicom_json
from triage.worklist.imaging import LUNG_WINDOW, encode_png, slice_hu, window_to_uint8

DICOM = "application/dicom"
OCTET_STREAM = "application/octet-stream"
RENDERED_TYPES = ("image/png", "image/jpeg")
ANY_TRANSFER_SYNTAX = "*"

NOT_ACCEPTABLE_MSG = "WADO-RS cannot answer with {accept!r}; it offers {offer}."
BAD_FRAMES_MSG = "Frame numbers must be a comma-separated list of integers from 1 to {frames}."
BAD_WINDOW_MSG = "The window parameter is center,width[,function] with numbers, width at least 1."


class NotAcceptable(DomainError):
    status_code = 406

    def __init__(self, *, accept: str, offer: str):
        super().__init__(NOT_ACCEPTABLE_MSG.format(accept=accept[:200], offer=offer))


def negotiate(accept: str, *, media_type: str) -> str:
    """Return the transfer syntax the ``Accept`` header asks for in ``multipart/related`` of ``media_type``.

    An absent Accept, ``*/*``, ``multipart/related`` without ``type`` or with this ``type`` is
    acceptable; the transfer syntax defaults to Explicit VR Little Endian. Raise
    :class:`NotAcceptable` otherwise.
    """
    if not accept.strip():
        return ExplicitVRLittleEndian
    for entry in accept.split(","):
        value, params = parse_header_parameters(entry.strip())
        value = value.lower()
        if value in ("*/*", "multipart/*"):
            return ExplicitVRLittleEndian
        if value == "multipart/related" and params.get("type", media_type).lower() in (media_type, "*/*"):
            return params.get("transfer-syntax", ExplicitVRLittleEndian)
    raise NotAcceptable(accept=accept, offer=f'multipart/related; type="{media_type}"')


def negotiate_rendered(accept: str) -> str:
    """Return ``image/png`` or ``image/jpeg`` as the ``Accept`` header prefers (PNG by default)."""
    for entry in accept.split(","):
        value = parse_header_parameters(entry.strip())[0].lower()
        if value in RENDERED_TYPES:
            return value
        if value in ("", "*/*", "image/*"):
            return RENDERED_TYPES[0]
    raise NotAcceptable(accept=accept, offer=" or ".join(RENDERED_TYPES))


def multipart_body(parts: Iterable[bytes], *, boundary: str, part_type: str) -> Iterator[bytes]:
    """Yield a ``multipart/related`` body of ``parts``, one part at a time (RFC 2387)."""
    opening = f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode("ascii")
    for content in parts:
        yield opening
        yield content
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def new_boundary() -> str:
    return secrets.token_hex(16)


def instance_in(data: bytes, *, transfer_syntax: str) -> bytes:
    """Return a stored instance (a DICOM file) in ``transfer_syntax`` (``*`` keeps it as stored)."""
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    stored = str(dataset.file_meta.TransferSyntaxUID)
    if transfer_syntax in (ANY_TRANSFER_SYNTAX, stored):
        return data
    if transfer_syntax != ExplicitVRLittleEndian:
        raise NotAcceptable(accept=f"transfer-syntax={transfer_syntax}",
                            offer=f"transfer-syntax={ExplicitVRLittleEndian} or *")
    dataset = pydicom.dcmread(io.BytesIO(data))
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        dataset.decompress()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def parse_frames(value: str, *, frames: int) -> list[int]:
    """Parse a frame list (``1,3``); raise :class:`NotFound` naming the rule when out of range."""
    try:
        numbers = [int(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if not numbers or any(not 1 <= n <= frames for n in numbers):
        raise NotFound(BAD_FRAMES_MSG.format(frames=frames))
    return numbers


def frame_data(data: bytes, *, frames: str) -> list[bytes]:
    """Return the native pixel bytes of each requested frame of a stored instance."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    count = int(dataset.get("NumberOfFrames", 1) or 1)
    numbers = parse_frames(frames, frames=count)
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        dataset.decompress()
    pixels = dataset.PixelData
    frame_bytes = len(pixels) // count
    return [bytes(pixels[(n - 1) * frame_bytes: n * frame_bytes]) for n in numbers]


def metadata(header: Dataset, *, bulk_data_uri: str) -> dict:
    """Return an instance header (read without pixel data) as DICOM JSON metadata.

    An image's pixel data is a BulkDataURI; an object without pixels (a structured report) has none.
    """
    body = dicom_json(header, bulk_data_threshold=10**9)
    if "Rows" not in header:
        return body
    body["7FE00010"] = {"vr": "OW" if int(header.get("BitsAllocated", 16)) > 8 else "OB",
                        "BulkDataURI": bulk_data_uri}
    return body


def _window(header: Dataset, window: str | None) -> tuple[float, float]:
    if window:
        try:
            center, width = (float(v) for v in window.split(",")[:2])
        except ValueError:
            raise DomainError(BAD_WINDOW_MSG) from None
        if width < 1 or not np.isfinite([center, width]).all():
            raise DomainError(BAD_WINDOW_MSG)
        return center, width
    if "WindowCenter" in header and "WindowWidth" in header:
        first = (lambda v: float(v[0]) if isinstance(v, pydicom.multival.MultiValue) else float(v))
        return first(header.WindowCenter), max(first(header.WindowWidth), 1.0)
    return LUNG_WINDOW


def rendered(data: bytes, *, media_type: str, window: str | None = None) -> bytes:
    """Return the instance rendered as an 8-bit grey PNG or JPEG."""
    header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    center, width = _window(header, window)
    try:
        image = window_to_uint8(slice_hu(data), level_hu=center, width_hu=width)
    except ValueError as exc:  # a window outside check_window's bounds
        raise DomainError(str(exc)) from None
    if media_type == "image/png":
        return encode_png(image)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
