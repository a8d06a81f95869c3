"""Read and check one DICOM file's header for ingestion; no Django models here.

:func:`read_ct_header` accepts classic single-frame CT Image Storage only. Enhanced CT
(multi-frame, 1.2.840.10008.5.1.4.1.1.2.1) is rejected for now: its per-frame geometry lives
in functional-group sequences that the pipeline does not read yet. Every rejection raises
:class:`RejectedFile` whose message names the broken rule and never a patient identifier.
"""
from __future__ import annotations

import datetime
import io
import math
import re
import zlib
from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (CTImageStorage, DeflatedExplicitVRLittleEndian, EnhancedCTImageStorage,
                         ImplicitVRLittleEndian, UID)

MAX_IMAGE_SIDE_PX = 2048
UID_PATTERN = re.compile(r"[0-9.]{1,64}")  # PS3.5 §9.1: UIDs are digits and dots, at most 64 characters
MAX_INFLATED_BYTES = 64 * 1024**2  # a deflated dataset may not expand beyond one instance's upload cap
ACCEPTED_PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2")
# (keyword, tag) that every accepted instance must carry.
UID_TAGS = (
    ("SOPInstanceUID", "(0008,0018)"),
    ("StudyInstanceUID", "(0020,000D)"),
    ("SeriesInstanceUID", "(0020,000E)"),
)
REQUIRED_TAGS = (
    *UID_TAGS,
    ("Rows", "(0028,0010)"),
    ("Columns", "(0028,0011)"),
    ("BitsAllocated", "(0028,0100)"),
    ("PhotometricInterpretation", "(0028,0004)"),
    ("PixelSpacing", "(0028,0030)"),
    ("ImageOrientationPatient", "(0020,0037)"),
)

NOT_DICOM_MSG = "Not a DICOM file."
TRUNCATED_MSG = "The DICOM file is truncated or corrupt."
NO_PIXEL_DATA_MSG = "The DICOM file has no pixel data (7FE0,0010)."
WRONG_MODALITY_MSG = "Modality (0008,0060) is {modality}; only CT is accepted."
ENHANCED_CT_MSG = ("Enhanced CT (multi-frame) is not supported yet; "
                   "send the series as classic CT Image Storage (one file per slice).")
WRONG_SOP_CLASS_MSG = "SOP Class {name} is not accepted; only CT Image Storage is."
MISSING_TAG_MSG = "Required tag {keyword} {tag} is missing."
WRONG_PHOTOMETRIC_MSG = "Photometric interpretation {value} is not accepted; CT must be MONOCHROME1 or MONOCHROME2."
MULTI_SAMPLE_MSG = "Samples per pixel (0028,0002) is {value}; CT must have 1."
UNDECODABLE_SYNTAX_MSG = "Transfer syntax {name} ({uid}) cannot be decoded here."
IMAGE_SIZE_MSG = "Image size {rows}x{columns} is outside 16..{limit} pixels per side."
MULTI_FRAME_MSG = "Multi-frame CT images ({frames} frames) are not supported."
BAD_GEOMETRY_MSG = "ImageOrientationPatient (0020,0037) or PixelSpacing (0028,0030) is malformed."
UNKNOWN_SYNTAX_MSG = "Transfer Syntax UID (0002,0010) is not a known transfer syntax."
MALFORMED_ELEMENT_MSG = "A header element{where} cannot be parsed (wrong value representation or length)."
INVALID_UID_MSG = "Not a valid UID in {keyword} {tag}: a UID is 1 to 64 digits and dots."
DEFLATE_BOMB_MSG = "The deflated dataset expands beyond {limit_mb} MB (possible decompression bomb); rejected."


class RejectedFile(Exception):
    """One file cannot be ingested; ``str(exc)`` is the reason shown to the uploader."""


@dataclass(frozen=True)
class CTHeader:
    """What ingestion keeps from one CT instance's header (lengths in mm)."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    rows: int
    columns: int
    pixel_spacing_mm: tuple[float, float]
    image_orientation_patient: tuple[float, ...]
    image_position_patient: tuple[float, float, float] | None
    instance_number: int | None
    slice_thickness_mm: float | None
    series_number: int | None
    series_description: str
    kvp: float | None
    convolution_kernel: str
    accession_number: str
    patient_id: str
    patient_name: str
    patient_sex: str
    patient_age: str
    patient_birth_date: datetime.date | None
    study_date: datetime.date | None
    study_description: str


def _check_inflated_size(data: bytes) -> None:
    """Reject a Deflated Explicit VR Little Endian file whose dataset inflates beyond ``MAX_INFLATED_BYTES``.

    pydicom inflates the whole dataset in memory before parsing it: a 256 KiB file can expand to
    256 MiB of zeros. Inflating with a cap first bounds that, whatever the file claims.
    """
    stream = io.BytesIO(data)
    try:
        pydicom.filereader.read_preamble(stream, False)
        meta = pydicom.filereader._read_file_meta_info(stream)  # the meta group only, never deflated
        deflated = meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except Exception:
        return  # not a Part 10 file with a readable meta group: the normal parse decides
    if not deflated:
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflater.decompress(data[stream.tell():], MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise RejectedFile(TRUNCATED_MSG) from exc
    if inflater.unconsumed_tail:
        raise RejectedFile(DEFLATE_BOMB_MSG.format(limit_mb=MAX_INFLATED_BYTES // 1024**2))


def is_decoder_failure(exc: BaseException) -> bool:
    """Tell whether ``exc`` comes from decoding bad pixel data (not an interrupt or exit).

    Besides the many ``Exception`` types of pydicom and numpy, the Rust decoders
    (pylibjpeg-rle) panic on some corrupt frames with pyo3's ``PanicException``, which derives
    from ``BaseException`` and slips through ``except Exception``.
    """
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def read_dataset(data: bytes) -> Dataset:
    """Parse a file's bytes into a dataset; raise :class:`RejectedFile` if it is not DICOM."""
    _check_inflated_size(data)
    try:
        return pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError:
        pass
    except Exception as exc:  # pydicom raises many types on a cut-off file
        raise RejectedFile(TRUNCATED_MSG) from exc
    # No 128-byte preamble / "DICM" (old ACR-NEMA style files): accept only if it parses into
    # something that looks like an image with identifiers; garbage gets "Not a DICOM file".
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        ds.get("SOPInstanceUID")
        ds.get("Rows")
    except Exception as exc:
        raise RejectedFile(NOT_DICOM_MSG) from exc
    if "Rows" not in ds and "SOPInstanceUID" not in ds:
        raise RejectedFile(NOT_DICOM_MSG)
    return ds


def _number(ds: Dataset, keyword: str, cast=float):
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        number = cast(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(ds: Dataset, keyword: str, max_length: int = 64) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:max_length]


def _date(ds: Dataset, keyword: str) -> datetime.date | None:
    value = _text(ds, keyword)
    try:
        return datetime.datetime.strptime(value[:8], "%Y%m%d").date() if len(value) >= 8 else None
    except ValueError:
        return None


def transfer_syntax_of(ds: Dataset) -> UID:
    """Return (0002,0010) *Transfer Syntax UID*, or implicit little endian for meta-less files.

    Raise :class:`RejectedFile` when the value is not a transfer syntax pydicom knows.
    """
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if not uid:
        return ImplicitVRLittleEndian
    if not isinstance(uid, str) or not UID(uid).is_transfer_syntax:
        raise RejectedFile(UNKNOWN_SYNTAX_MSG)
    return UID(uid)


def can_decode(transfer_syntax: UID) -> bool:
    """Tell whether an installed pixel data decoder handles ``transfer_syntax``."""
    from pydicom.pixels.decoders.base import get_decoder

    try:
        return bool(get_decoder(transfer_syntax).is_available)
    except (NotImplementedError, ValueError, KeyError):
        return False


_TAG_IN_ERROR = re.compile(r"\(([0-9A-Fa-f]{4}),\s*([0-9A-Fa-f]{4})\)")


def read_ct_header(data: bytes) -> CTHeader:
    """Parse and check one file; raise :class:`RejectedFile` with the first broken rule."""
    ds = read_dataset(data)
    try:
        return check_ct_dataset(ds)
    except RejectedFile:
        raise
    except Exception as exc:  # pydicom converts elements on first access: a corrupt one fails there
        tag = _TAG_IN_ERROR.search(str(exc))
        where = f" ({tag.group(1).upper()},{tag.group(2).upper()})" if tag else ""
        raise RejectedFile(MALFORMED_ELEMENT_MSG.format(where=where)) from exc


def check_ct_dataset(ds: Dataset) -> CTHeader:
    """Check a parsed dataset against the ingest rules; raise :class:`RejectedFile` on the first broken one."""
    modality = _text(ds, "Modality")
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        if modality and modality != "CT":
            raise RejectedFile(WRONG_MODALITY_MSG.format(modality=modality))
        raise RejectedFile(NO_PIXEL_DATA_MSG)
    if modality != "CT":
        raise RejectedFile(WRONG_MODALITY_MSG.format(modality=modality or "missing"))
    sop_class = ds.get("SOPClassUID")
    if sop_class == EnhancedCTImageStorage:
        raise RejectedFile(ENHANCED_CT_MSG)
    if sop_class is not None and sop_class != CTImageStorage:
        raise RejectedFile(WRONG_SOP_CLASS_MSG.format(name=UID(sop_class).name))
    for keyword, tag in REQUIRED_TAGS:
        if keyword not in ds or ds.get(keyword) in (None, ""):
            raise RejectedFile(MISSING_TAG_MSG.format(keyword=keyword, tag=tag))
    for keyword, tag in UID_TAGS:
        if not UID_PATTERN.fullmatch(str(ds.get(keyword))):
            raise RejectedFile(INVALID_UID_MSG.format(keyword=keyword, tag=tag))
    photometric = _text(ds, "PhotometricInterpretation")
    if photometric not in ACCEPTED_PHOTOMETRIC:
        raise RejectedFile(WRONG_PHOTOMETRIC_MSG.format(value=photometric))
    samples = _number(ds, "SamplesPerPixel", int) or 1
    if samples != 1:
        raise RejectedFile(MULTI_SAMPLE_MSG.format(value=samples))
    frames = _number(ds, "NumberOfFrames", int) or 1
    if frames != 1:
        raise RejectedFile(MULTI_FRAME_MSG.format(frames=frames))
    transfer_syntax = transfer_syntax_of(ds)
    if transfer_syntax.is_compressed and not can_decode(transfer_syntax):
        raise RejectedFile(UNDECODABLE_SYNTAX_MSG.format(name=transfer_syntax.name, uid=str(transfer_syntax)))
    rows, columns = int(ds.Rows), int(ds.Columns)
    if not transfer_syntax.is_compressed and "PixelData" in ds:
        expected_bytes = rows * columns * (((_number(ds, "BitsAllocated", int) or 16) + 7) // 8)
        if len(ds.PixelData) < expected_bytes:
            raise RejectedFile(TRUNCATED_MSG)
    if not (16 <= rows <= MAX_IMAGE_SIDE_PX and 16 <= columns <= MAX_IMAGE_SIDE_PX):
        raise RejectedFile(IMAGE_SIZE_MSG.format(rows=rows, columns=columns, limit=MAX_IMAGE_SIDE_PX))
    try:
        orientation = tuple(float(v) for v in ds.ImageOrientationPatient)
        spacing = tuple(float(v) for v in ds.PixelSpacing)
        position = tuple(float(v) for v in ds.ImagePositionPatient) if ds.get("ImagePositionPatient") else None
    except (TypeError, ValueError) as exc:
        raise RejectedFile(BAD_GEOMETRY_MSG) from exc
    if len(orientation) != 6 or len(spacing) != 2 or min(spacing) <= 0 or (position and len(position) != 3):
        raise RejectedFile(BAD_GEOMETRY_MSG)
    return CTHeader(
        sop_instance_uid=str(ds.SOPInstanceUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        transfer_syntax_uid=str(transfer_syntax),
        rows=rows,
        columns=columns,
        pixel_spacing_mm=(spacing[0], spacing[1]),
        image_orientation_patient=orientation,
        image_position_patient=position,  # type: ignore[arg-type]
        instance_number=_number(ds, "InstanceNumber", int),
        slice_thickness_mm=_number(ds, "SliceThickness"),
        series_number=_number(ds, "SeriesNumber", int),
        series_description=_text(ds, "SeriesDescription"),
        kvp=_number(ds, "KVP"),
        convolution_kernel=_text(ds, "ConvolutionKernel"),
        accession_number=_text(ds, "AccessionNumber"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName", 324),
        patient_sex=_text(ds, "PatientSex", 16),
        patient_age=_text(ds, "PatientAge", 16),
        patient_birth_date=_date(ds, "PatientBirthDate"),
        study_date=_date(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
    )
