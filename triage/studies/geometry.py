"""Pick the CT series to analyse and order its slices; plain functions on header values.

Selection rule (:func:`select_stack`): group decodable instances of each CT series into stacks
of identical Rows/Columns and orientation (direction cosines rounded to 0.01). A stack is a
candidate when it is axial — the slice normal (row × column cosines) lies within
``AXIAL_TOLERANCE_DEG`` of the patient z axis — and has at least ``MIN_SLICES`` slices.
The candidate with the most slices wins; ties go to the thinnest slices, then the lowest
SeriesNumber.

Ordering rule (:func:`order_slices`): sort by ImagePositionPatient (0020,0032) projected on the
slice normal (ascending, i.e. feet to head for an axial scan). When any slice lacks IPP, fall
back to InstanceNumber (0020,0013), with positions = InstanceNumber × slice spacing (the
SliceThickness (0018,0050), else 1 mm), and say so in the result.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

AXIAL_TOLERANCE_DEG = 10.0
MIN_SLICES = 8


@dataclass(frozen=True)
class SliceGeometry:
    """Geometry of one decodable instance, as read from its header."""

    instance_id: int
    series_id: int
    series_number: int | None
    rows: int
    columns: int
    image_orientation_patient: tuple[float, ...]
    image_position_patient: tuple[float, float, float] | None
    instance_number: int | None
    slice_thickness_mm: float | None


@dataclass(frozen=True)
class OrderedStack:
    """The chosen slices in order, their positions along the normal and the slice spacing."""

    series_id: int
    instance_ids: tuple[int, ...]
    z_positions_mm: tuple[float, ...]
    spacing_between_slices_mm: float | None
    ordered_by: str  # "image_position_patient" or "instance_number"


def slice_geometry(ds, *, instance_id: int, series_id: int) -> SliceGeometry:
    """Read the geometry of one (already validated) pydicom dataset."""
    position = ds.get("ImagePositionPatient")
    number = ds.get("InstanceNumber")
    thickness = ds.get("SliceThickness")
    series_number = ds.get("SeriesNumber")
    return SliceGeometry(
        instance_id=instance_id, series_id=series_id,
        series_number=int(series_number) if series_number not in (None, "") else None,
        rows=int(ds.Rows), columns=int(ds.Columns),
        image_orientation_patient=tuple(float(c) for c in ds.ImageOrientationPatient),
        image_position_patient=tuple(float(c) for c in position) if position else None,  # type: ignore[arg-type]
        instance_number=int(number) if number not in (None, "") else None,
        slice_thickness_mm=float(thickness) if thickness not in (None, "") else None,
    )


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Return the unit normal (row cosines × column cosines) of an image plane."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 0 else normal


def is_axial(orientation: Sequence[float], *, tolerance_deg: float = AXIAL_TOLERANCE_DEG) -> bool:
    """Tell whether the slice normal is within ``tolerance_deg`` of the patient z axis."""
    normal = slice_normal(orientation)
    if not normal.any():
        return False
    return math.degrees(math.acos(min(1.0, abs(float(normal[2]))))) <= tolerance_deg


def _stack_key(s: SliceGeometry) -> tuple:
    return (s.series_id, s.rows, s.columns, tuple(round(c, 2) for c in s.image_orientation_patient))


def select_stack(slices: Sequence[SliceGeometry], *, min_slices: int = MIN_SLICES) -> list[SliceGeometry] | None:
    """Return the slices of the stack to analyse (rule in the module docstring), or ``None``."""
    stacks: dict[tuple, list[SliceGeometry]] = defaultdict(list)
    for s in slices:
        stacks[_stack_key(s)].append(s)
    candidates = [group for group in stacks.values()
                  if len(group) >= min_slices and is_axial(group[0].image_orientation_patient)]
    if not candidates:
        return None

    def rank(group: list[SliceGeometry]) -> tuple:
        thickness = group[0].slice_thickness_mm
        series_number = group[0].series_number
        return (-len(group), thickness if thickness else math.inf,
                series_number if series_number is not None else math.inf)

    return min(candidates, key=rank)


def order_slices(stack: Sequence[SliceGeometry]) -> OrderedStack:
    """Order one stack's slices and compute their positions along the slice normal (mm)."""
    if all(s.image_position_patient is not None for s in stack):
        normal = slice_normal(stack[0].image_orientation_patient)
        positions = [float(np.dot(normal, s.image_position_patient)) for s in stack]
        ordered_by = "image_position_patient"
    else:
        step_mm = stack[0].slice_thickness_mm or 1.0
        positions = [float((s.instance_number or 0) * step_mm) for s in stack]
        ordered_by = "instance_number"
    order = sorted(range(len(stack)), key=lambda i: (positions[i], stack[i].instance_number or 0))
    z_positions = [positions[i] for i in order]
    gaps = np.diff(z_positions)
    gaps = gaps[gaps > 1e-3]
    spacing = round(float(np.median(gaps)), 4) if gaps.size else None
    return OrderedStack(
        series_id=stack[0].series_id,
        instance_ids=tuple(stack[i].instance_id for i in order),
        z_positions_mm=tuple(round(z, 4) for z in z_positions),
        spacing_between_slices_mm=spacing,
        ordered_by=ordered_by,
    )


GAP_FACTOR = 1.5  # a step this many times the series' spacing means slices are missing


@dataclass(frozen=True)
class StackGap:
    """Slices missing inside an ordered stack: after 1-based slice ``after_slice``, about ``missing`` of them."""

    after_slice: int
    missing: int
    gap_mm: float | None = None
    instance_numbers: tuple[int, int] | None = None  # the first and last missing (0020,0013), when that is how we know


def stack_gaps(z_positions_mm: Sequence[float | None], instance_numbers: Sequence[int | None], *,
               spacing_mm: float | None = None) -> list[StackGap]:
    """Find holes in a stack ordered along z: a step over ``GAP_FACTOR`` × the spacing, or a jump in the
    (0020,0013) *Instance Number* run (which also catches a missing slice when positions are absent).

    ``spacing_mm`` defaults to the median step. Returns one gap per hole, in slice order; ``[]`` when whole.
    """
    steps = [b - a for a, b in zip(z_positions_mm, z_positions_mm[1:]) if a is not None and b is not None]
    positive = [s for s in steps if s > 1e-3]
    spacing = spacing_mm or (float(np.median(positive)) if positive else None)
    numbers_run = all(n is not None for n in instance_numbers) and len(set(instance_numbers)) == len(instance_numbers)
    gaps = []
    for i in range(len(z_positions_mm) - 1):
        a, b = z_positions_mm[i], z_positions_mm[i + 1]
        step = None if a is None or b is None else b - a
        by_z = spacing is not None and step is not None and step > GAP_FACTOR * spacing
        jump = abs(instance_numbers[i + 1] - instance_numbers[i]) if numbers_run else 1
        if by_z:
            gaps.append(StackGap(after_slice=i + 1, missing=max(1, round(step / spacing) - 1), gap_mm=round(step, 2),
                                 instance_numbers=_missing_numbers(instance_numbers, i) if jump > 1 else None))
        elif jump > 1 and (step is None or spacing is None):
            gaps.append(StackGap(after_slice=i + 1, missing=jump - 1,
                                 instance_numbers=_missing_numbers(instance_numbers, i)))
    return gaps


def _missing_numbers(numbers: Sequence[int | None], i: int) -> tuple[int, int]:
    low, high = sorted((numbers[i], numbers[i + 1]))
    return low + 1, high - 1
