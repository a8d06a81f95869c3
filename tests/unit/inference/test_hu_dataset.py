"""Tests of inference.hu_dataset: real-volume labels, the NY-SBU chest rule and synthetic rows' provenance."""

from __future__ import annotations

import numpy as np
from tests.unit.inference.factories import require_shared

from inference.dicom_io import Volume
from inference.hu_dataset import COVID, NORMAL, NYSBU_MIN_LUNG_FRACTION, PNEUMONIA, RealVolume, nysbu_chest_slices, read_labelled_series, slice_classes
from inference.preprocess import plan_study


def test_slice_classes__infected_slices_take_the_study_class_others_are_normal():
    volume = Volume(np.zeros((4, 2, 2), np.float32), (2.0, 1.0, 1.0), (1, 0, 0, 0, 1, 0), np.arange(4.0), "image_position_patient")
    real = RealVolume("v", volume=volume, study_class=PNEUMONIA, infection=np.array([0, 1, 1, 0]))
    np.testing.assert_array_equal(slice_classes(real), [NORMAL, PNEUMONIA, PNEUMONIA, NORMAL])


def test_read_labelled_series__labels_follow_the_sorted_slices():
    folder = require_shared("dicom-covid-ct-md/covid-P002")
    volume, infection = read_labelled_series(folder)
    assert infection is not None and infection.shape == (volume.hu.shape[0],) and int(infection.sum()) == 68
    # The radiologists' infected slices form runs along z, not a scatter: labels follow the sorted order.
    assert np.count_nonzero(np.diff(infection)) <= 12


def test_nysbu_chest_slices__keeps_chest_and_drops_abdominal_slices():
    root = require_shared("dicom-covid19-ny-sbu")
    kept = list(nysbu_chest_slices(root.parent))
    total = len(list(root.glob("*/axial/*.dcm")))
    assert 0 < len(kept) < total
    for patient, volume in kept:
        assert patient.startswith("nysbu-") and plan_study(volume.hu).lung_fraction[0] >= NYSBU_MIN_LUNG_FRACTION


def test_class_order__matches_covidnet_ct2():
    assert (NORMAL, PNEUMONIA, COVID) == (0, 1, 2)
