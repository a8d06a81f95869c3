"""Tests of inference.domain: real chest CT is applicable; head, abdomen, reformats and odd HU are not, with reasons."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import distance as scipy_distance
from tests.unit.inference.factories import require_shared

from inference.dicom_io import read_series
from inference.domain import (
    DomainLimits,
    FeatureReference,
    air_mode_hu,
    check_applicability,
    fit_feature_reference,
    mahalanobis_distances,
    relative_feature_distance,
)
from inference.quantify import segment_lungs

LIMITS = DomainLimits(max_relative_distance=2.0)


def _check(volume, *, relative_distance=None, limits=LIMITS):
    lungs = segment_lungs(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation).both
    return check_applicability(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation, lung_mask=lungs,
                               limits=limits, relative_distance=relative_distance, manufacturer=volume.manufacturer)


def test_check_applicability__real_chest_series_is_applicable():
    folder = require_shared("dicom-series-lung-pet-ct-dx/Lung_Dx-A0002")
    outcome = _check(read_series(sorted(folder.rglob("*.dcm"))), relative_distance=1.0)
    assert outcome.applicable, outcome.reasons
    assert outcome.reasons == [] and -1050 < outcome.measurements["air_mode_hu"] < -950


def test_check_applicability__head_ct_has_no_lungs():
    path = require_shared("dicom-format-tests/pydicom_data_1.0.0/693_UNCI.dcm")
    head = read_series([path])
    # 40 copies at 5 mm: enough slices and extent, so only the missing lungs can fail it.
    stacked = type(head)(np.repeat(head.hu, 40, axis=0), (5.0, *head.spacing_mm[1:]), head.orientation,
                         np.arange(40) * 5.0, head.sort_method)
    outcome = _check(stacked)
    assert not outcome.applicable
    assert any("no chest CT with lungs" in reason for reason in outcome.reasons)


def test_check_applicability__abdominal_series_is_not_applicable():
    folder = require_shared("dicom-format-tests/totalsegmentator_example_ct_dicom")
    outcome = _check(read_series(sorted(p for p in folder.iterdir() if p.name.startswith("CT."))))
    assert not outcome.applicable and "lungs" in " ".join(outcome.reasons)


def test_check_applicability__coronal_reformat_is_not_axial():
    paths = sorted(require_shared("dicom-covid19-ny-sbu").glob("*/coronal/*.dcm"))
    outcome = _check(read_series(paths[:1]))
    assert any(reason.startswith("not an axial series") for reason in outcome.reasons)


def test_check_applicability__names_each_failed_rule():
    volume = np.full((12, 64, 64), 500.0, np.float32)  # no air at all, thick slices, no lungs
    outcome = check_applicability(volume, spacing_mm=(12.0, 1.0, 1.0), orientation=(1, 0, 0, 0, 1, 0),
                                  lung_mask=np.zeros(volume.shape, bool), limits=LIMITS, relative_distance=3.0)
    text = " | ".join(outcome.reasons)
    assert not outcome.applicable and len(outcome.reasons) == 4
    for part in ("slice spacing 12.00 mm", "implausible Hounsfield units (no air-like voxels", "no chest CT with lungs",
                 "image features unlike the training data (distance 3.00 > 2.00"):
        assert part in text


def test_check_applicability__too_few_lung_slices():
    volume = np.full((4, 64, 64), -1000.0, np.float32)
    lungs = np.zeros(volume.shape, bool)
    lungs[:, 5:60, 5:60] = True
    outcome = check_applicability(volume, spacing_mm=(5.0, 10.0, 10.0), orientation=(1, 0, 0, 0, 1, 0), lung_mask=lungs,
                                  limits=LIMITS)
    assert [r for r in outcome.reasons if r.startswith("too few lung slices (4 slices over 20 mm")]


def test_air_mode_hu__finds_air_and_ignores_padding():
    volume = np.concatenate([np.full((2, 40, 40), -3024.0), np.full((2, 40, 40), -1002.0), np.full((2, 40, 40), 40.0)]).astype(np.float32)
    assert air_mode_hu(volume) == pytest.approx(-1005.0)
    assert air_mode_hu(np.full((2, 8, 8), 40.0, np.float32)) is None


def test_mahalanobis_distances__match_scipy():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    reference = fit_feature_reference(features, shrinkage=0.0)
    ours = mahalanobis_distances(features[:10], mean=reference.mean, precision=reference.precision)
    expected = [scipy_distance.mahalanobis(row, reference.mean, reference.precision) for row in features[:10]]
    np.testing.assert_allclose(ours, expected, rtol=1e-8)


def test_relative_feature_distance__far_features_score_higher(tmp_path):
    rng = np.random.default_rng(1)
    reference = fit_feature_reference(rng.normal(size=(500, 8)))
    reference.save(str(tmp_path / "ref.npz"))
    loaded = FeatureReference.load(str(tmp_path / "ref.npz"))
    near = relative_feature_distance(rng.normal(size=(30, 8)), reference=loaded)
    far = relative_feature_distance(rng.normal(loc=6.0, size=(30, 8)), reference=loaded)
    assert near < 1.0 < far


def test_domain_limits__from_card_reads_lists_and_defaults():
    limits = DomainLimits.from_card({"domain": {"limits": {"slice_spacing_mm": [1, 8], "max_relative_distance": 1.7}}})
    assert limits.slice_spacing_mm == (1, 8) and limits.max_relative_distance == 1.7
    assert DomainLimits.from_card({}) == DomainLimits()


def test_check_applicability__project_phantom_is_labelled_synthetic(tmp_path):
    from inference.phantom import write_phantom_series

    write_phantom_series(tmp_path, slices=16, size_px=96, severity="moderate", seed=0)
    volume = read_series(sorted(tmp_path.glob("*.dcm")))
    assert volume.manufacturer == "CT Triage phantom"
    outcome = _check(volume, relative_distance=0.5)
    assert not outcome.applicable
    assert outcome.reasons[0].startswith("synthetic phantom (Manufacturer 'CT Triage phantom'), not patient CT")


def test_check_applicability__real_scanner_manufacturer_passes_rule_0():
    volume = np.full((30, 32, 32), -1000.0, np.float32)
    lungs = np.zeros(volume.shape, bool)
    lungs[:, 2:30, 2:30] = True
    outcome = check_applicability(volume, spacing_mm=(5.0, 10.0, 10.0), orientation=(1, 0, 0, 0, 1, 0), lung_mask=lungs,
                                  limits=LIMITS, manufacturer="SIEMENS")
    assert outcome.applicable, outcome.reasons
