"""Generate small DICOM and zip inputs, good and bad, in memory (no binary files in the repo).

``ct_slice`` builds one tiny but real CT instance; ``bad_inputs()`` returns name → bytes for
every malformed single-file case; the ``*_zip`` helpers build hostile archives.
Run ``python -m tests.corpus.make_bad_inputs OUT_DIR`` to write them out for manual tries.
"""
from __future__ import annotations

import io
import stat
import sys
import zipfile
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, MRImageStorage,
                         SecondaryCaptureImageStorage, UID, generate_uid)

# A transfer syntax no installed decoder handles.
MPEG2_UID = UID("1.2.840.10008.1.2.4.100")


def ct_dataset(*, study_uid: str | None = None, series_uid: str | None = None, sop_uid: str | None = None,
               index: int = 0, size_px: int = 32, with_position: bool = True) -> Dataset:
    """Return one axial CT slice dataset of ``size_px``² pixels at z = -index * 5 mm."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = "CT"
    ds.PatientID = "CORPUS-PATIENT-7"
    ds.PatientName = "Corpus^Patient"
    ds.AccessionNumber = "ACC-CORPUS-7"
    ds.StudyDate = "20200301"
    ds.SeriesNumber = 2
    ds.InstanceNumber = index + 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    if with_position:
        ds.ImagePositionPatient = [-80, -80, -index * 5.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 5
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size_px
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.PixelData = (np.arange(size_px * size_px, dtype=np.int16) % 2000).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_slice(**kwargs) -> bytes:
    return to_bytes(ct_dataset(**kwargs))


def ct_series(*, slices: int = 10, study_uid: str | None = None, size_px: int = 32,
              with_position: bool = True) -> dict[str, bytes]:
    """Return name → bytes of one axial series (``slices`` files of one study and series)."""
    study_uid, series_uid = study_uid or generate_uid(), generate_uid()
    return {f"slice{i:03d}.dcm": ct_slice(study_uid=study_uid, series_uid=series_uid, index=i, size_px=size_px,
                                          with_position=with_position) for i in range(slices)}


def _modified(**changes) -> bytes:
    ds = ct_dataset()
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    if "SOPClassUID" in changes and changes["SOPClassUID"]:
        ds.file_meta.MediaStorageSOPClassUID = changes["SOPClassUID"]
    return to_bytes(ds)


def bad_inputs() -> dict[str, bytes]:
    """Return name → bytes of every malformed single file the ingest must reject."""
    good = ct_slice()
    rgb = ct_dataset()
    rgb.SOPClassUID = rgb.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    rgb.Modality = "OT"
    rgb.SamplesPerPixel, rgb.PhotometricInterpretation, rgb.PlanarConfiguration = 3, "RGB", 0
    rgb.BitsAllocated = rgb.BitsStored = 8
    rgb.HighBit, rgb.PixelRepresentation = 7, 0
    rgb.PixelData = bytes(32 * 32 * 3)
    ct_rgb = ct_dataset()
    ct_rgb.SamplesPerPixel, ct_rgb.PhotometricInterpretation = 3, "RGB"
    mpeg = ct_dataset()
    mpeg.file_meta.TransferSyntaxUID = MPEG2_UID
    mpeg.PixelData = encapsulate([b"\x00" * 64])
    mpeg["PixelData"].VR = "OB"
    sr = Dataset()
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    sr.SOPInstanceUID, sr.Modality = generate_uid(), "SR"
    sr.file_meta = FileMetaDataset()
    sr.file_meta.MediaStorageSOPClassUID, sr.file_meta.MediaStorageSOPInstanceUID = sr.SOPClassUID, sr.SOPInstanceUID
    sr.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return {
        "not_dicom.dcm": b"This is a text file, not an image.\n" * 20,
        "truncated.dcm": good[: len(good) // 3],
        "no_pixel_data.dcm": _modified(PixelData=None),
        "mr_modality.dcm": _modified(Modality="MR", SOPClassUID=MRImageStorage),
        "cr_modality.dcm": _modified(Modality="CR", SOPClassUID="1.2.840.10008.5.1.4.1.1.1"),
        "sr_modality.dcm": to_bytes(sr),
        "rgb_secondary_capture.dcm": to_bytes(rgb),
        "rgb_ct.dcm": to_bytes(ct_rgb),
        "enhanced_ct.dcm": _modified(SOPClassUID=EnhancedCTImageStorage),
        "undecodable_syntax.dcm": to_bytes(mpeg),
        "missing_pixel_spacing.dcm": _modified(PixelSpacing=None),
        "overlong_study_uid.dcm": _modified(StudyInstanceUID="1." + "2" * 80),
        "huge_rows.dcm": _modified(Rows=4096),
    }


def zip_of(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(*, expanded_bytes: int = 20 * 1024**2) -> bytes:
    """Return a zip whose single entry is ``expanded_bytes`` of zeros (ratio ≈ 1000x)."""
    return zip_of({"bomb.dcm": b"\x00" * expanded_bytes})


def traversal_zip() -> bytes:
    """Return a zip with a good slice plus ``../``, absolute-path and symlink entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escape.dcm", ct_slice())
        archive.writestr("/etc/absolute.dcm", ct_slice())
        link = zipfile.ZipInfo("link.dcm")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def nested_zip() -> bytes:
    return zip_of({"inner.zip": zip_of({"a.dcm": ct_slice()})})


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else "bad-inputs")
    out.mkdir(parents=True, exist_ok=True)
    items = bad_inputs() | {"zip_bomb.zip": zip_bomb(), "traversal.zip": traversal_zip(), "nested.zip": nested_zip()}
    for name, data in items.items():
        (out / name).write_bytes(data)
    print(f"wrote {len(items)} files to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
