"""Tests of inference.feature_dataset: lesion blocks stay in clean slices; a synthetic copy raises HU only there."""

from __future__ import annotations

import numpy as np

from inference.dicom_io import SORT_BY_POSITION, Volume
from inference.feature_dataset import lesion_blocks, synthetic_copy
from inference.hu_dataset import COVID, RealVolume
from inference.phantom import make_phantom_volume
from inference.quantify import segment_lungs


def test_lesion_blocks__are_strided_centred_on_hosts_and_avoid_infected_slices():
    clean = np.ones(20, bool)
    clean[9] = False
    blocks = lesion_blocks(np.arange(1, 19), clean=clean, half=1, stride=4, offset=0)
    assert [b.tolist() for b in blocks] == [[0, 1, 2], [4, 5, 6], [12, 13, 14], [16, 17, 18]]  # 8..10 touches slice 9


def test_synthetic_copy__changes_only_the_block_slices_inside_the_lungs():
    hu, spacing_mm, masks, _ = make_phantom_volume(slices=16, size_px=96, severity="none", seed=1)
    volume = Volume(hu, spacing_mm, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), np.arange(16.0) * spacing_mm[0], SORT_BY_POSITION)
    real = RealVolume("phantom", volume, COVID, np.zeros(16, np.int64))
    lungs = segment_lungs(hu, spacing_mm=spacing_mm)
    block = np.array([7, 8, 9])
    copy, touched = synthetic_copy(real, lungs=lungs, pattern="pneumonia", blocks=[block], rng=np.random.default_rng(0))
    assert set(touched.tolist()) <= set(block.tolist()) and 8 in touched
    changed = np.flatnonzero((copy != hu).any(axis=(1, 2)))
    assert set(changed.tolist()) == set(touched.tolist())
    assert np.all(copy[~lungs.both] == hu[~lungs.both])
    assert copy[8].mean() > hu[8].mean()
