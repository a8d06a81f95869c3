"""Lesion volume on the hard-case phantoms (inference.phantom_cases) stays within 5 % of truth."""

import functools

import numpy as np
import pytest

from inference.phantom_cases import AIR_HU, HARD_CASES, VESSEL_HU, HardCase
from inference.quantify import CONSOLIDATION, GGO, Quantification, quantify_volume

HARD_CASE_TOLERANCE = 0.05


@functools.lru_cache(maxsize=None)
def measured(name: str) -> tuple[HardCase, Quantification]:
    """Build one hard case and quantify it (once per test session)."""
    case = HARD_CASES[name]()
    return case, quantify_volume(case.hu, spacing_mm=case.spacing_mm)


@pytest.mark.parametrize("name", sorted(HARD_CASES))
def test_quantify_volume__hard_case_lesion_volume_within_5_percent(name):
    case, result = measured(name)
    assert result.lesion_total_ml == pytest.approx(case.lesion_ml, rel=HARD_CASE_TOLERANCE), case.name


@pytest.mark.parametrize("name", sorted(HARD_CASES))
def test_quantify_volume__hard_case_lesion_overlaps_truth(name):
    case, result = measured(name)
    found = np.isin(result.lesion_labels, (GGO, CONSOLIDATION))
    dice = 2 * np.count_nonzero(found & case.lesion) / (np.count_nonzero(found) + np.count_nonzero(case.lesion))
    assert dice >= 0.9, case.name


@pytest.mark.parametrize("name", ["vessels_through_plane", "vessels_in_plane", "vessels_oblique", "vessels_branching"])
def test_vessel_cases__hold_vessels_that_the_old_rule_counted(name):
    case, result = measured(name)
    vessel_like = (case.hu > -300) & case.lungs & ~case.lesion
    assert np.count_nonzero(vessel_like) * np.prod(case.spacing_mm) / 1000.0 > 5.0  # > 5 ml of vessel in the lungs
    assert np.count_nonzero((np.isin(result.lesion_labels, (GGO, CONSOLIDATION))) & vessel_like) <= 0.01 * np.count_nonzero(vessel_like)


def test_pleural_effusion__fluid_is_neither_lung_nor_lesion():
    case, result = measured("pleural_effusion")
    fluid = (np.abs(case.hu - 15.0) < 60.0) & ~case.lungs
    assert not (np.isin(result.lesion_labels, (GGO, CONSOLIDATION)) & fluid).any()
    lungs = result.lungs.both
    assert 2 * np.count_nonzero(lungs & case.lungs) / (np.count_nonzero(lungs) + np.count_nonzero(case.lungs)) >= 0.97


def test_air_bronchogram__bronchial_lumen_is_not_lesion():
    case, result = measured("air_bronchogram")
    lumen = (case.hu < -900) & case.lungs
    assert lumen.any() and not (np.isin(result.lesion_labels, (GGO, CONSOLIDATION)) & lumen).any()


def test_hard_cases__paint_their_structures():
    assert AIR_HU < -900 < VESSEL_HU
    for name, build in HARD_CASES.items():
        case = build()
        assert case.lesion.any() and not (case.lesion & ~case.lungs).any(), name
