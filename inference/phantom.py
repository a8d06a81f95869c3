"""Synthetic chest CT phantoms with known lungs and lesions, written as real DICOM CT series.

Geometry follows DICOM patient coordinates (LPS) for a head-first-supine (HFS) scan with
ImageOrientationPatient (0020,0037) = [1, 0, 0, 0, 1, 0]: image column index increasing points
to the PATIENT'S LEFT, image row index increasing points posterior. Volumes are ``(z, y, x)`` with
slice index 0 the most superior slice (it carries the largest z ImagePositionPatient).

Tissue values (HU, before Gaussian noise): outside air -1000, fat rim -100, soft tissue +40,
aerated lung -850, airway -1000, vessels +40, bone +700, ground-glass opacity (GGO) -550 and
consolidation -20 (ellipsoids of known voxel volume, clipped to the lung). The tissue map is blurred
in-plane by a Gaussian point-spread function (``psf_sigma_mm``, partial volume at every edge) before
noise is added; the ground-truth masks stay the sharp voxel masks.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import ndimage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, UID, generate_uid

from inference.quantify.morphology import centroid_zyx

SEVERITIES = ("none", "mild", "moderate", "severe")
SIDECAR_NAME = "phantom.json"
HFS_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
RESCALE_INTERCEPT_HU = -1024.0
FIELD_OF_VIEW_MM = 350.0
SCAN_LENGTH_MM = 320.0
NOISE_SD_HU = 18.0
PSF_SIGMA_MM = 0.5  # in-plane Gaussian blur of the scanner (FWHM ≈ 1.2 mm): partial volume at edges

AIR_HU = -1000.0
FAT_HU = -100.0
SOFT_TISSUE_HU = 40.0
LUNG_HU = -850.0
VESSEL_HU = 40.0
BONE_HU = 700.0
GGO_HU = -550.0
CONSOLIDATION_HU = -20.0

LUNG_TOP_FRACTION = 0.10  # fraction of the scan length above the lung apices (neck slices)
LUNG_BOTTOM_FRACTION = 0.90  # below this fraction: abdomen, no lung
LUNG_CENTRE_U = 0.40  # lung centre, normalised half-FOV units from the midline
LUNG_SEMI_AXES_UV = (0.29, 0.44)
ZONES = ("upper", "middle", "lower")
VESSEL_CLEARANCE_VOXELS = 3.0


@dataclass(frozen=True)
class LesionSpec:
    """Describe one lesion ellipsoid in lung-relative coordinates.

    Attributes
    ----------
    kind : "ggo" or "consolidation".
    lung : patient side, "left" or "right".
    depth : position along the lung's z-extent, 0 = apex, 1 = base.
    offset_uv : centre offset from the lung centre, in fractions of the lung's semi-axes.
    radii_mm : semi-axes (z, y, x) in mm.
    """

    kind: str
    lung: str
    depth: float
    offset_uv: tuple[float, float]
    radii_mm: tuple[float, float, float]


@dataclass(frozen=True)
class LesionTruth:
    """Ground truth of one placed lesion (voxel volume after clipping to the lung)."""

    kind: str
    lung: str
    zone: str
    centre_voxel: tuple[int, int, int]
    radii_mm: tuple[float, float, float]
    volume_ml: float


@dataclass(frozen=True)
class PhantomMasks:
    """Ground-truth boolean masks, each ``(z, y, x)``; lesion masks are disjoint."""

    lung_left: np.ndarray
    lung_right: np.ndarray
    ggo: np.ndarray
    consolidation: np.ndarray


@dataclass(frozen=True)
class PhantomInfo:
    """Describe a phantom: geometry, ground-truth volumes (ml) and, once written, its DICOM ids."""

    severity: str
    seed: int
    slices: int
    size_px: int
    spacing_mm: tuple[float, float, float]
    lung_ml: dict[str, float]
    lesion_ml: dict[str, float]
    lesion_ml_by_lung: dict[str, dict[str, float]]
    lesions: tuple[LesionTruth, ...]
    orientation: tuple[float, ...] = HFS_ORIENTATION
    psf_sigma_mm: float = PSF_SIGMA_MM
    noise_sd_hu: float = NOISE_SD_HU
    patient_id: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    accession_number: str | None = None
    files: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (the sidecar content)."""
        return dataclasses.asdict(self)


LESION_PLANS: dict[str, tuple[LesionSpec, ...]] = {
    "none": (),
    "mild": (
        LesionSpec("ggo", "right", 0.80, (0.35, 0.30), (12.0, 14.0, 12.0)),
        LesionSpec("ggo", "left", 0.55, (0.40, 0.35), (9.0, 10.0, 9.0)),
    ),
    "moderate": (
        LesionSpec("ggo", "right", 0.80, (0.35, 0.30), (20.0, 22.0, 18.0)),
        LesionSpec("ggo", "left", 0.50, (0.35, 0.30), (18.0, 20.0, 16.0)),
        LesionSpec("consolidation", "right", 0.50, (0.05, 0.05), (12.0, 12.0, 10.0)),
        LesionSpec("ggo", "left", 0.20, (0.10, -0.10), (10.0, 11.0, 10.0)),
    ),
    "severe": (
        LesionSpec("ggo", "right", 0.82, (0.25, 0.25), (32.0, 30.0, 26.0)),
        LesionSpec("ggo", "left", 0.80, (0.25, 0.25), (30.0, 30.0, 26.0)),
        LesionSpec("ggo", "right", 0.45, (0.30, -0.20), (24.0, 26.0, 20.0)),
        LesionSpec("ggo", "left", 0.45, (0.30, -0.25), (22.0, 24.0, 20.0)),
        LesionSpec("consolidation", "right", 0.78, (0.00, 0.20), (16.0, 15.0, 13.0)),
        LesionSpec("consolidation", "left", 0.55, (0.00, 0.05), (14.0, 14.0, 12.0)),
        LesionSpec("ggo", "right", 0.18, (0.10, -0.10), (12.0, 14.0, 12.0)),
    ),
}


def _slice_depth(slices: int) -> np.ndarray:
    """Return each slice's normalised position along the scan, 0 = top, 1 = bottom."""
    return (np.arange(slices, dtype=np.float64) + 0.5) / slices


def _lung_depth(depth: np.ndarray) -> np.ndarray:
    """Map scan depth (0..1) to lung depth (0 = apex, 1 = base)."""
    return (depth - LUNG_TOP_FRACTION) / (LUNG_BOTTOM_FRACTION - LUNG_TOP_FRACTION)


def _lung_scale(depth: np.ndarray) -> np.ndarray:
    """Return the lung cross-section scale per slice (0 = no lung): small apex, wide base, domed bottom."""
    lung_depth = _lung_depth(depth)
    inside = (lung_depth >= 0.0) & (lung_depth <= 1.0)
    apex = np.sin(0.5 * np.pi * np.clip(lung_depth / 0.6, 0.0, 1.0)) ** 0.7
    dome = 1.0 - 0.55 * np.clip((lung_depth - 0.75) / 0.25, 0.0, 1.0) ** 2
    return np.where(inside, np.maximum(apex * dome, 0.25), 0.0)


def _jitter_plan(plan: Sequence[LesionSpec], *, rng: np.random.Generator) -> list[LesionSpec]:
    """Perturb lesion positions and sizes a little so that each seed differs."""
    jittered = []
    for spec in plan:
        du, dv = rng.uniform(-0.06, 0.06, size=2)
        scale = rng.uniform(0.9, 1.1)
        jittered.append(
            dataclasses.replace(
                spec,
                depth=float(np.clip(spec.depth + rng.uniform(-0.03, 0.03), 0.05, 0.95)),
                offset_uv=(spec.offset_uv[0] + du, spec.offset_uv[1] + dv),
                radii_mm=tuple(r * scale for r in spec.radii_mm),  # type: ignore[arg-type]
            )
        )
    return jittered


def _side_sign(lung: str) -> float:
    """Return +1 for the patient's left lung (higher image columns in HFS), -1 for the right."""
    return 1.0 if lung == "left" else -1.0


def _window(centre: float, radius: float, size: int) -> slice:
    """Return the index range covering ``centre ± radius`` (voxels), clipped to ``[0, size)``."""
    return slice(max(int(np.floor(centre - radius)), 0), min(int(np.ceil(centre + radius)) + 1, size))


def _ellipsoid(
    shape: tuple[int, int, int],
    *,
    centre_voxel: Sequence[float],
    radii_voxel: Sequence[float],
) -> np.ndarray:
    """Return a boolean ellipsoid mask, evaluated only inside its bounding box from broadcast 1-D axes."""
    box = tuple(_window(c, r, n) for n, c, r in zip(shape, centre_voxel, radii_voxel))
    axes = [
        ((np.arange(b.start, b.stop, dtype=np.float32) - c) / r) ** 2
        for b, c, r in zip(box, centre_voxel, radii_voxel)
    ]
    mask = np.zeros(shape, dtype=bool)
    mask[box] = (axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :]) <= 1.0
    return mask


def _anatomy_masks(slices: int, size_px: int) -> dict[str, np.ndarray]:
    """Return boolean tissue masks ``(z, y, x)`` for body, fat rim, lungs, airway, vessels and bone."""
    depth = _slice_depth(slices).astype(np.float32)[:, None, None]
    half = size_px / 2.0
    coords = (np.arange(size_px, dtype=np.float32) + 0.5 - half) / half
    u = coords[None, None, :]
    v = coords[None, :, None]

    breathing = 1.0 + 0.04 * np.sin(np.pi * depth)
    body_r = (u / (0.86 * breathing)) ** 2 + ((v - 0.05) / (0.62 * breathing)) ** 2
    body = body_r <= 1.0
    fat = body & (body_r > 0.92**2)

    scale = _lung_scale(depth)
    safe_scale = np.maximum(scale, 1e-6)
    semi_u, semi_v = LUNG_SEMI_AXES_UV
    heart = ((u / 0.27) ** 2 + ((v + 0.02) / 0.30) ** 2 <= 1.0) & (_lung_depth(depth) > 0.45)
    lungs = {}
    for side in ("left", "right"):
        centre_u = _side_sign(side) * LUNG_CENTRE_U
        ellipse = ((u - centre_u) / (semi_u * safe_scale)) ** 2 + ((v - 0.02) / (semi_v * safe_scale)) ** 2
        lungs[side] = (ellipse <= 1.0) & (scale > 0.0) & ~heart

    trachea_depth = LUNG_TOP_FRACTION + 0.25 * (LUNG_BOTTOM_FRACTION - LUNG_TOP_FRACTION)
    trachea = (u**2 + (v + 0.22) ** 2 <= 0.045**2) & (depth <= trachea_depth)
    bronchus_t = np.clip((depth - trachea_depth) / 0.08, 0.0, 1.0)
    in_bronchi = (depth > trachea_depth) & (depth <= trachea_depth + 0.08)
    bronchi = np.zeros_like(trachea)
    for sign in (-1.0, 1.0):
        bronchi |= ((u - sign * 0.05 * bronchus_t) ** 2 + (v + 0.22) ** 2 <= 0.022**2) & in_bronchi
    airway = trachea | bronchi

    spine = (u**2 + (v - 0.52) ** 2 <= 0.08**2) | (u**2 + (v - 0.36) ** 2 <= 0.03**2)
    bone = np.broadcast_to(spine, body.shape)
    return {"body": body, "fat": fat, "lung_left": lungs["left"], "lung_right": lungs["right"],
            "airway": airway, "bone": bone}


def _vessel_mask(slices: int, size_px: int, *, rng: np.random.Generator) -> np.ndarray:
    """Return thin bright tubes running along z (pulmonary vessels), radius 1.2–2 mm, wandering slowly."""
    depth = _slice_depth(slices).astype(np.float32)[:, None, None]
    half = size_px / 2.0
    vessels = np.zeros((slices, size_px, size_px), dtype=bool)
    wander = 0.04
    for sign in (-1.0, 1.0):
        for _ in range(4):
            u0 = sign * LUNG_CENTRE_U + rng.uniform(-0.12, 0.12)
            v0 = rng.uniform(-0.20, 0.25)
            radius = rng.uniform(1.2, 2.0) / (FIELD_OF_VIEW_MM / 2.0)
            u_z = u0 + wander * np.sin(2.0 * np.pi * depth + rng.uniform(0, 2 * np.pi))
            v_z = v0 + wander * np.cos(2.0 * np.pi * depth + rng.uniform(0, 2 * np.pi))
            rows = _window((v0 + 1.0) * half - 0.5, (wander + radius) * half + 1.0, size_px)
            columns = _window((u0 + 1.0) * half - 0.5, (wander + radius) * half + 1.0, size_px)
            v = (np.arange(rows.start, rows.stop, dtype=np.float32) + 0.5 - half) / half
            u = (np.arange(columns.start, columns.stop, dtype=np.float32) + 0.5 - half) / half
            dist2 = (u[None, None, :] - u_z) ** 2 + (v[None, :, None] - v_z) ** 2
            vessels[:, rows, columns] |= dist2 <= radius**2
    return vessels


def _place_lesions(
    plan: Sequence[LesionSpec],
    *,
    lungs: dict[str, np.ndarray],
    spacing_mm: tuple[float, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[LesionSpec, np.ndarray]]]:
    """Rasterise lesion ellipsoids clipped to their lung; consolidation overrides GGO.

    Returns GGO, consolidation, a halo (every ellipsoid grown by ``VESSEL_CLEARANCE_VOXELS``, kept
    free of vessels so that vessels never touch lesions) and each spec with its clipped ellipsoid.
    """
    shape = lungs["left"].shape
    ggo = np.zeros(shape, dtype=bool)
    consolidation = np.zeros(shape, dtype=bool)
    halo = np.zeros(shape, dtype=bool)
    placed = []
    half = shape[2] / 2.0
    lung_rows = np.flatnonzero(lungs["left"].any(axis=(1, 2)) | lungs["right"].any(axis=(1, 2)))
    for spec in plan:
        z_index = lung_rows[0] + spec.depth * (lung_rows[-1] - lung_rows[0])
        scale = float(_lung_scale(_slice_depth(shape[0])[[int(round(z_index))]])[0])
        centre_u = _side_sign(spec.lung) * LUNG_CENTRE_U
        # offset_uv[0] > 0 points laterally (away from the midline) for both lungs
        u = centre_u + _side_sign(spec.lung) * spec.offset_uv[0] * LUNG_SEMI_AXES_UV[0] * scale
        v = 0.02 + spec.offset_uv[1] * LUNG_SEMI_AXES_UV[1] * scale
        centre_voxel = (z_index, v * half + half - 0.5, u * half + half - 0.5)
        radii_voxel = [r / s for r, s in zip(spec.radii_mm, spacing_mm)]
        blob = _ellipsoid(shape, centre_voxel=centre_voxel, radii_voxel=radii_voxel) & lungs[spec.lung]
        halo |= _ellipsoid(
            shape, centre_voxel=centre_voxel, radii_voxel=[r + VESSEL_CLEARANCE_VOXELS for r in radii_voxel]
        )
        if spec.kind == "ggo":
            ggo |= blob
        else:
            consolidation |= blob
        placed.append((spec, blob))
    ggo &= ~consolidation
    return ggo, consolidation, halo, placed


def _zone_of(z_index: int, *, lung: np.ndarray) -> str:
    """Return the lung zone (thirds of the lung's z-extent, superior first) containing a slice."""
    rows = np.flatnonzero(lung.any(axis=(1, 2)))
    third = (z_index - rows[0]) * 3 // (rows[-1] - rows[0] + 1)
    return ZONES[int(np.clip(third, 0, 2))]


def make_phantom_volume(
    *,
    slices: int = 64,
    size_px: int = 256,
    severity: str = "moderate",
    seed: int = 0,
    psf_sigma_mm: float = PSF_SIGMA_MM,
) -> tuple[np.ndarray, tuple[float, float, float], PhantomMasks, PhantomInfo]:
    """Build a synthetic chest CT volume in HU with ground-truth masks.

    Parameters
    ----------
    slices : number of axial slices; the scan always covers ``SCAN_LENGTH_MM``.
    size_px : rows = columns of each slice; the field of view is always ``FIELD_OF_VIEW_MM``.
    severity : "none", "mild", "moderate" or "severe" (number and size of lesions).
    seed : seeds noise, vessel paths and lesion jitter.
    psf_sigma_mm : in-plane Gaussian blur (scanner point-spread function) in mm; 0 keeps edges sharp.

    Returns
    -------
    hu_volume : float32 ``(z, y, x)`` in HU, slice 0 most superior, column increasing = patient left.
    spacing_mm : ``(z, y, x)`` voxel spacing in mm.
    masks : ground-truth boolean masks.
    info : ground-truth volumes in ml and lesion list (no DICOM ids yet).
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    if slices < 8 or size_px < 64:
        raise ValueError(f"need slices >= 8 and size_px >= 64, got {slices} and {size_px}")
    if psf_sigma_mm < 0:
        raise ValueError(f"psf_sigma_mm must be >= 0, got {psf_sigma_mm}")
    rng = np.random.default_rng(seed)
    pixel_mm = round(FIELD_OF_VIEW_MM / size_px, 4)
    spacing_mm = (round(SCAN_LENGTH_MM / slices, 4), pixel_mm, pixel_mm)

    tissue = _anatomy_masks(slices, size_px)
    lungs = {"left": tissue["lung_left"], "right": tissue["lung_right"]}
    any_lung = lungs["left"] | lungs["right"]
    plan = _jitter_plan(LESION_PLANS[severity], rng=rng)
    ggo, consolidation, halo, placed = _place_lesions(plan, lungs=lungs, spacing_mm=spacing_mm)
    vessels = _vessel_mask(slices, size_px, rng=rng) & any_lung & ~halo

    hu = np.full((slices, size_px, size_px), AIR_HU, dtype=np.float32)
    for mask, value in (
        (tissue["body"], SOFT_TISSUE_HU),
        (tissue["fat"], FAT_HU),
        (tissue["bone"], BONE_HU),
        (any_lung, LUNG_HU),
        (tissue["airway"], AIR_HU),
        (vessels, VESSEL_HU),
        (ggo, GGO_HU),
        (consolidation, CONSOLIDATION_HU),
    ):
        np.copyto(hu, np.float32(value), where=mask)
    if psf_sigma_mm > 0:
        hu = ndimage.gaussian_filter(hu, sigma=(0.0, psf_sigma_mm / spacing_mm[1], psf_sigma_mm / spacing_mm[2]))
    hu += np.float32(NOISE_SD_HU) * rng.standard_normal(size=hu.shape, dtype=np.float32)

    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    lesions = tuple(
        LesionTruth(
            kind=spec.kind,
            lung=spec.lung,
            zone=_zone_of(int(np.argmax(blob.sum(axis=(1, 2)))), lung=lungs[spec.lung]),
            centre_voxel=tuple(int(round(c)) for c in centroid_zyx(blob)),  # type: ignore[arg-type]
            radii_mm=tuple(round(r, 3) for r in spec.radii_mm),  # type: ignore[arg-type]
            volume_ml=round(int(((ggo if spec.kind == "ggo" else consolidation) & blob).sum()) * voxel_ml, 4),
        )
        for spec, blob in placed
        if blob.any()  # on very short scans a lesion can fall between slices: it then does not exist
    )
    by_lung = {
        side: {
            "ggo": float(np.count_nonzero(ggo & lungs[side]) * voxel_ml),
            "consolidation": float(np.count_nonzero(consolidation & lungs[side]) * voxel_ml),
        }
        for side in ("left", "right")
    }
    for side_ml in by_lung.values():
        side_ml["total"] = side_ml["ggo"] + side_ml["consolidation"]
    lung_ml = {side: float(np.count_nonzero(lungs[side]) * voxel_ml) for side in ("left", "right")}
    lung_ml["total"] = lung_ml["left"] + lung_ml["right"]
    info = PhantomInfo(
        severity=severity,
        seed=seed,
        slices=slices,
        size_px=size_px,
        spacing_mm=spacing_mm,
        lung_ml=lung_ml,
        lesion_ml={kind: by_lung["left"][kind] + by_lung["right"][kind] for kind in ("ggo", "consolidation", "total")},
        lesion_ml_by_lung=by_lung,
        lesions=lesions,
        psf_sigma_mm=psf_sigma_mm,
    )
    masks = PhantomMasks(lung_left=lungs["left"], lung_right=lungs["right"], ggo=ggo, consolidation=consolidation)
    return hu, spacing_mm, masks, info


def _base_dataset(
    *,
    info: PhantomInfo,
    study_date: str,
    frame_of_reference_uid: str,
    transfer_syntax: UID,
) -> Dataset:
    """Return the attributes shared by every slice of the series."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Manufacturer = "CT Triage phantom"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.StudyInstanceUID = info.study_instance_uid
    ds.SeriesInstanceUID = info.series_instance_uid
    ds.FrameOfReferenceUID = frame_of_reference_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.AccessionNumber = info.accession_number
    ds.PatientID = info.patient_id
    ds.PatientName = f"Phantom^{info.severity.capitalize()}"
    ds.PatientSex = "O"
    ds.PatientAge = f"{40 + info.seed % 40:03d}Y"
    ds.PatientBirthDate = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "CT CHEST (synthetic phantom)"
    ds.SeriesDescription = f"Phantom {info.severity}"
    ds.BodyPartExamined = "CHEST"
    ds.PatientPosition = "HFS"
    ds.KVP = "120"
    ds.ConvolutionKernel = "B30f"
    ds.SliceThickness = f"{info.spacing_mm[0]:g}"
    ds.SpacingBetweenSlices = f"{info.spacing_mm[0]:g}"
    ds.PixelSpacing = [f"{info.spacing_mm[1]:g}", f"{info.spacing_mm[2]:g}"]
    ds.ImageOrientationPatient = [f"{c:g}" for c in HFS_ORIENTATION]
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = info.size_px
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = f"{RESCALE_INTERCEPT_HU:g}"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "-600"
    ds.WindowWidth = "1500"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if transfer_syntax.is_compressed else transfer_syntax
    return ds


def write_phantom_series(
    out_dir: Path,
    *,
    slices: int = 64,
    size_px: int = 256,
    severity: str = "moderate",
    seed: int = 0,
    patient_id: str | None = None,
    study_instance_uid: str | None = None,
    accession_number: str | None = None,
    transfer_syntax: UID = ExplicitVRLittleEndian,
    psf_sigma_mm: float = PSF_SIGMA_MM,
) -> PhantomInfo:
    """Write a phantom as a DICOM CT series (one file per slice) plus ``phantom.json`` ground truth.

    Stored values are int16 with (0028,1053) *Rescale Slope* 1 and (0028,1052) *Rescale Intercept*
    -1024. Files are named ``IM0001.dcm`` … in InstanceNumber order (superior first). A compressed
    ``transfer_syntax`` (e.g. RLE Lossless) is encoded through ``Dataset.compress``.

    Parameters
    ----------
    out_dir : directory to create or fill.
    slices, size_px, severity, seed, psf_sigma_mm : as for :func:`make_phantom_volume`.
    patient_id : (0010,0020) *Patient ID*; default ``PHANTOM<seed>``.
    study_instance_uid : (0020,000D) *Study Instance UID*; default a new UID.
    accession_number : (0008,0050) *Accession Number*; default ``PH<seed>``.
    transfer_syntax : (0002,0010) *Transfer Syntax UID* of the written files.

    Returns
    -------
    PhantomInfo with the DICOM ids and written file paths filled in.
    """
    hu, spacing_mm, _, info = make_phantom_volume(
        slices=slices, size_px=size_px, severity=severity, seed=seed, psf_sigma_mm=psf_sigma_mm
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = dataclasses.replace(
        info,
        patient_id=patient_id or f"PHANTOM{seed:05d}",
        study_instance_uid=study_instance_uid or generate_uid(),
        series_instance_uid=generate_uid(),
        accession_number=accession_number or f"PH{seed:08d}",
    )
    study_date = (datetime.date(2020, 3, 1) + datetime.timedelta(days=seed % 365)).strftime("%Y%m%d")
    base = _base_dataset(
        info=info,
        study_date=study_date,
        frame_of_reference_uid=generate_uid(),
        transfer_syntax=UID(transfer_syntax),
    )
    stored = np.clip(np.rint(hu - RESCALE_INTERCEPT_HU), -32768, 32767).astype(np.int16)
    origin_x_mm = -(size_px / 2.0 - 0.5) * spacing_mm[2]
    origin_y_mm = -(size_px / 2.0 - 0.5) * spacing_mm[1]
    files = []
    for index in range(slices):
        ds = copy.deepcopy(base)
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = index + 1
        z_mm = -index * spacing_mm[0]
        ds.ImagePositionPatient = [f"{origin_x_mm:.4f}", f"{origin_y_mm:.4f}", f"{z_mm:.4f}"]
        ds.SliceLocation = f"{z_mm:.4f}"
        ds.PixelData = stored[index].tobytes()
        if UID(transfer_syntax).is_compressed:
            ds.compress(transfer_syntax)
        ds.preamble = b"\x00" * 128
        path = out_dir / f"IM{index + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(str(path))
    info = dataclasses.replace(info, files=tuple(files))
    (out_dir / SIDECAR_NAME).write_text(json.dumps(info.to_dict(), indent=2))
    return info


def main(argv: Sequence[str] | None = None) -> None:
    """Write a phantom series from the command line and print its ground truth as JSON."""
    parser = argparse.ArgumentParser(prog="python -m inference.phantom", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--size", type=int, default=256, help="rows = columns in pixels")
    parser.add_argument("--severity", choices=SEVERITIES, default="moderate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    info = write_phantom_series(
        args.out, slices=args.slices, size_px=args.size, severity=args.severity, seed=args.seed
    )
    summary = {key: value for key, value in info.to_dict().items() if key != "files"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
