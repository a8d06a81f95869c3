"""Tests of inference.quantify.bench (tiny sizes; no timing assertions)."""

import json

import numpy as np
import pytest

from inference.phantom_cases import vessels_through_plane
from inference.quantify import quantify_volume
from inference.quantify.bench import main, reference_quantify


def test_main__prints_new_and_replaced_times_from_one_run(capsys):
    main(["--slices", "24", "--size", "96", "--repeats", "1"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["shape_zyx"] == [24, 96, 96]
    assert report["quantify_s"] > 0 and report["replaced_algorithm_s"] > 0 and report["airways_s"] > 0
    assert report["ratio_new_to_old"] == pytest.approx(report["quantify_s"] / report["replaced_algorithm_s"], rel=0.05)


def test_reference_quantify__is_the_rule_that_counted_through_plane_vessels():
    case = vessels_through_plane()
    old_ml = np.count_nonzero(reference_quantify(case.hu, spacing_mm=case.spacing_mm)) * np.prod(case.spacing_mm) / 1e3
    new_ml = quantify_volume(case.hu, spacing_mm=case.spacing_mm).lesion_total_ml
    assert old_ml > 1.5 * case.lesion_ml  # the replaced rule read the 6 mm vessels as lesion
    assert new_ml == pytest.approx(case.lesion_ml, rel=0.05)
