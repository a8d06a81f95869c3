"""Tests of inference.domain_report: which series it checks, and what it reports of one."""

from __future__ import annotations

from inference.domain_report import HEAD_COPIES, HEAD_STEP_MM, describe, series
from inference.domain import Applicability


def test_series__absent_data_is_named_and_the_phantoms_are_still_made(tmp_path):
    produced = dict(series(tmp_path / "no-data", tmp_path / "work"))
    absent = {name: value for name, value in produced.items() if isinstance(value, str)}
    assert set(absent) == {"covid-ct-md/covid-P002", "covid-ct-md/cap-cap002", "covid-ct-md/normal-normal002",
                           "lung-pet-ct-dx/Lung_Dx-A0002", f"head-693 x{HEAD_COPIES}", "abdomen-totalseg"}
    assert all(value.startswith("absent: ") for value in absent.values())
    phantom = produced["phantom-moderate"]
    assert phantom.manufacturer == "CT Triage phantom" and phantom.hu.shape[0] == 64


def test_stacked_head__repeats_the_slice_at_the_stated_step(tmp_path):
    from inference.domain_report import stacked_head

    one = dict(series(tmp_path / "no-data", tmp_path / "work"))["phantom-none"]
    single = type(one)(one.hu[:1], one.spacing_mm, one.orientation, one.slice_positions_mm[:1], one.sort_method)
    head = stacked_head(single)
    assert head.hu.shape[0] == HEAD_COPIES and head.spacing_mm[0] == HEAD_STEP_MM
    assert head.slice_positions_mm[-1] == (HEAD_COPIES - 1) * HEAD_STEP_MM


class _Analysis:
    covid_probability = 0.97912
    applicability = Applicability(False, ["no chest CT with lungs"], {"relative_feature_distance": 2.9234})


def test_describe__reports_reasons_distance_and_probability():
    assert describe(_Analysis()) == {"applicable": False, "reasons": ["no chest CT with lungs"],
                                     "relative_feature_distance": 2.92, "covid_probability": 0.979}
