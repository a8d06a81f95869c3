"""Build studies with results, stored DICOM slices and overlays for worklist and viewer tests.

Rows are created directly (the real pipeline is exercised elsewhere) and every study's worklist
row is written through the real ``refresh_worklist_entry`` service.
"""
from __future__ import annotations

import io
import itertools
from datetime import datetime

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from triage.core.object_store import sha256_of
from triage.results.models import ModelVersion, Overlay, Quantification, Result, SliceScore
from triage.results.overlay_store import store_overlay_images
from triage.studies import storage
from triage.studies.models import Instance, Series, Study
from triage.worklist.services import refresh_worklist_entry

CLASS_NAMES = ["normal", "pneumonia", "covid19"]
_ids = itertools.count(1)


def model_version() -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        name="covidnet-ct-s", version="test", defaults={
            "weights_sha256": "0" * 64, "class_names": CLASS_NAMES, "input_size_px": 64, "is_active": True})
    return version


def make_study(*, hospital, received_at: datetime, status: str = Study.Status.READY, probability: float | None = None,
               label: str = "", lesion_fraction: float | None = None, severity: int | None = None,
               accession: str | None = None, patient_id: str = "", age: str = "045Y", sex: str = "F") -> Study:
    """Create a study (with a current result when ``probability`` is given) and its worklist row."""
    n = next(_ids)
    study = Study.objects.create(
        hospital=hospital, study_instance_uid=f"1.2.826.0.1.{n}", accession_number=accession or f"ACC{n:05d}",
        patient_id=patient_id or f"PID{n:05d}", patient_age=age, patient_sex=sex, status=status,
        failure_reason="test failure" if status == Study.Status.FAILED else "")
    Study.objects.filter(pk=study.pk).update(received_at=received_at)
    if probability is not None:
        add_result(study=study, probability=probability, label=label or "covid19",
                   lesion_fraction=lesion_fraction, severity=severity)
    refresh_worklist_entry(study=study)
    study.refresh_from_db()
    return study


def add_result(*, study: Study, probability: float, label: str = "covid19", lesion_fraction: float | None = None,
               severity: int | None = None, slice_probabilities: list[float] | None = None,
               key_slices: list[int] | None = None) -> Result:
    result = Result.objects.create(
        study=study, model_version=model_version(), class_probabilities={"covid19": probability},
        covid_probability=probability, covid_probability_uncalibrated=probability, predicted_label=label,
        slices_scored=len(slice_probabilities or []), key_slice_indices=key_slices or [])
    SliceScore.objects.bulk_create(
        SliceScore(result=result, slice_index=i, covid_probability=p)
        for i, p in enumerate(slice_probabilities or []))
    if lesion_fraction is not None:
        Quantification.objects.create(
            result=result, lung_left_ml=2000, lung_right_ml=2200, lesion_ggo_ml=80, lesion_consolidation_ml=20,
            lesion_total_ml=100, lesion_fraction_left=lesion_fraction * 0.8, lesion_fraction_right=lesion_fraction * 1.2,
            lesion_fraction_both=lesion_fraction, lesion_hu_mean=-512.0, severity_total=severity or 0)
    return result


def ct_dicom(stored: np.ndarray, *, z_mm: float = 0.0, intercept: float = -1024.0, slope: float = 1.0,
             study_uid: str | None = None, series_uid: str | None = None, number: int = 1) -> bytes:
    """Encode a 2-D int16 array as a CT image with the given (0028,1052)/(0028,1053) rescale."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("slice.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid or generate_uid(), series_uid or generate_uid()
    ds.InstanceNumber = number
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, z_mm], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [1, 1], 1
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = intercept, slope
    ds.PixelData = np.ascontiguousarray(stored, dtype=np.int16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def store_series(*, study: Study, files: list[bytes]) -> Series:
    """Store DICOM files as the study's selected series, with z positions from (0020,0032)."""
    first = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
    series = Series.objects.create(study=study, series_instance_uid=generate_uid(), modality="CT", rows=first.Rows,
                                   columns=first.Columns, is_selected=True, slice_count=len(files),
                                   image_orientation_patient=[float(v) for v in first.ImageOrientationPatient])
    for number, data in enumerate(files, start=1):
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        digest = sha256_of(data)
        path, _ = storage.store_content(hospital_uuid=study.hospital.uuid, data=data, sha256=digest)
        Instance.objects.create(series=series, sop_instance_uid=header.SOPInstanceUID, storage_path=path,
                                sha256=digest, size_bytes=len(data),
                                instance_number=int(header.get("InstanceNumber", number)),
                                z_position_mm=float(header.ImagePositionPatient[2]))
    Study.objects.filter(pk=study.pk).update(selected_series=series)
    study.refresh_from_db()
    return series


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def add_overlay(*, result: Result, slice_index: int, size_px: int, kind: str = Overlay.Kind.GRADCAM) -> Overlay:
    """Add an overlay whose heatmap is a blob over the right lung (image left), as Grad-CAM would draw."""
    y, x = np.mgrid[0:size_px, 0:size_px] / size_px
    blob = (255 * np.exp(-(((x - 0.3) / 0.12) ** 2 + ((y - 0.5) / 0.15) ** 2))).astype(np.uint8)
    ramp = np.tile(np.linspace(0, 255, size_px).astype(np.uint8), (size_px, 1))
    rgb = np.stack([np.maximum(ramp, blob), np.zeros_like(ramp), 255 - ramp], axis=-1)
    if kind == Overlay.Kind.LESION:  # grey CT with a red outline ring around the same region
        ring = np.abs(np.hypot((x - 0.3) / 0.12, (y - 0.5) / 0.15) - 1.0) < 0.12
        rgb = np.repeat(ramp[..., None] // 2, 3, axis=-1)
        rgb[ring] = (220, 30, 30)
    images = store_overlay_images(hospital_uuid=result.study.hospital.uuid, png=png_bytes(rgb),
                                  heatmap=png_bytes(blob) if kind == Overlay.Kind.GRADCAM else None)
    return Overlay.objects.create(result=result, slice_index=slice_index, kind=kind, width_px=size_px,
                                  height_px=size_px, **images)
