"""Builders of synthetic inference test inputs: DICOM slices, class-folder datasets, shared-data paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
TINY_SIZE_PX = 32


def require_shared(relative: str) -> Path:
    """Return a path under the shared data folder, skipping the test when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (licensed data is not part of the repository)")
    return path


def make_ct_slice(
    stored: np.ndarray,
    *,
    z_mm: float,
    slope: float = 1.0,
    intercept: float = -1024.0,
    instance_number: int = 1,
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    pixel_spacing_mm: tuple[float, float] = (0.7, 0.8),
    with_position: bool = True,
) -> Dataset:
    """Build an in-memory single-frame CT slice whose stored values are ``stored`` (uint16)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, generate_uid(), "CT"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.InstanceNumber = instance_number
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = list(pixel_spacing_mm)
    ds.SliceThickness = 2.5
    if with_position:
        ds.ImagePositionPatient = [-100.0, -100.0, z_mm]
    ds.PixelData = stored.astype(np.uint16).tobytes()
    return ds


def write_class_folders(root: Path, *, images_per_class: int = 6, seed: int = 0) -> Path:
    """Write a tiny two-class PNG dataset (covid brighter than non-covid) and return its root."""
    rng = np.random.default_rng(seed)
    for class_name, brightness in (("covid", 255), ("non-covid", 90)):
        folder = root / class_name
        folder.mkdir(parents=True)
        for index in range(images_per_class):
            pixels = (rng.random((40, 48)) * brightness).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"paper{index}-p1-{index}.png")
    return root
