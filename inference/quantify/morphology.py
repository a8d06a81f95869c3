"""Vectorised in-plane morphology helpers on boolean ``(z, y, x)`` volumes (scipy.ndimage, no Python voxel loops)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

IN_PLANE_CROSS = np.pad(ndimage.generate_binary_structure(2, 1)[None], ((1, 1), (0, 0), (0, 0)))  # never links slices
IN_PLANE_SQUARE = np.pad(np.ones((1, 3, 3), dtype=bool), ((1, 1), (0, 0), (0, 0)))
FULL_3D = np.ones((3, 3, 3), dtype=bool)


def bounding_box(mask: np.ndarray, *, margin_px: int = 0) -> tuple[slice, slice, slice] | None:
    """Return the (z, y, x) slices enclosing ``mask`` plus an in-plane margin, or None if it is empty.

    Parameters
    ----------
    mask : boolean (z, y, x).
    margin_px : extra rows/columns on each side (clipped to the array).
    """
    if not mask.any():
        return None
    boxes = []
    for axis, extra in ((0, 0), (1, margin_px), (2, margin_px)):
        other_axes = tuple(a for a in range(3) if a != axis)
        indices = np.flatnonzero(mask.any(axis=other_axes))
        boxes.append(slice(max(int(indices[0]) - extra, 0), min(int(indices[-1]) + 1 + extra, mask.shape[axis])))
    return boxes[0], boxes[1], boxes[2]


def centroid_zyx(mask: np.ndarray) -> tuple[float, float, float]:
    """Return the (z, y, x) voxel centroid of a non-empty boolean mask from its axis profiles."""
    count = float(np.count_nonzero(mask))
    centre = []
    for axis in range(3):
        profile = mask.sum(axis=tuple(a for a in range(3) if a != axis))
        centre.append(float(np.dot(profile, np.arange(profile.size)) / count))
    return centre[0], centre[1], centre[2]


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Fill background regions that the mask encloses within each axial slice, unless they open along z.

    A background component (4-connected in-plane) is a hole of its slice when it does not touch the
    slice's outer rows or columns. Holes that chain (6-connected) across slices to background that is
    not a hole, or to the first or last slice, are left open: those are an organ rising into the
    lung (the liver or heart dome under the diaphragm, cut across) or the hilum, not a vessel or a
    consolidation enclosed by lung.
    """
    labels, count = ndimage.label(~mask, structure=IN_PLANE_CROSS)
    touching = np.zeros(count + 1, dtype=bool)
    for edge in (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]):
        touching[np.unique(edge)] = True
    touching[0] = True  # label 0 is the mask itself
    holes = ~touching[labels]
    outside = ~mask & ~holes
    chains, chain_count = ndimage.label(holes)
    open_chain = np.zeros(chain_count + 1, dtype=bool)
    open_chain[np.unique(chains[1:][outside[:-1]])] = True
    open_chain[np.unique(chains[:-1][outside[1:]])] = True
    open_chain[np.unique(chains[[0, -1]])] = True
    open_chain[0] = True
    return np.asarray(mask | ~open_chain[chains])


def close_per_slice(mask: np.ndarray, *, radius_px: int) -> np.ndarray:
    """Close each slice with a (2 * radius_px + 1)² square, padding so the array border does not erode."""
    if radius_px < 1:
        return mask.copy()
    padded = np.pad(mask, ((0, 0), (radius_px, radius_px), (radius_px, radius_px)))
    closed = ndimage.binary_closing(padded, structure=IN_PLANE_SQUARE, iterations=radius_px)
    return np.asarray(closed[:, radius_px:-radius_px, radius_px:-radius_px])


def keep_thick_parts(mask: np.ndarray, *, radius_px: int, seed_excluded: np.ndarray | None = None) -> np.ndarray:
    """Keep the parts of ``mask`` near an in-plane core thicker than ``radius_px`` (opening by geodesic dilation).

    Erode each slice ``radius_px`` times with a 3×3 cross (core), drop core voxels in
    ``seed_excluded`` (a band that may belong to a lesion but cannot start one), then grow the core
    back ``radius_px + 1`` steps in 3-D (26-neighbourhood) without leaving ``mask``. Thin tubes and
    rims (vessels, pleural partial volume) vanish, blobs come back whole including caps in adjacent
    slices, and a structure attached to a blob is kept only within ``radius_px + 1`` voxels of it.
    """
    if radius_px < 1 or not mask.any():
        return mask.copy()
    core = ndimage.binary_erosion(mask, structure=IN_PLANE_CROSS, iterations=radius_px)
    if seed_excluded is not None:
        core &= ~seed_excluded
    if not core.any():
        return np.asarray(core)
    return np.asarray(ndimage.binary_dilation(core, structure=FULL_3D, iterations=radius_px + 1, mask=mask))


def drop_small_components(mask: np.ndarray, *, min_voxels: int) -> np.ndarray:
    """Remove 26-connected components smaller than ``min_voxels``."""
    labels, count = ndimage.label(mask, structure=FULL_3D)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_voxels
    keep[0] = False
    return np.asarray(keep[labels])
