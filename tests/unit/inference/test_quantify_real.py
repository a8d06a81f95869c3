"""Lesion quantification against radiologists' labels on real CT (COVID-CT-MD sample volumes).

Skipped with a message when ``../shared/data`` is absent (a fresh clone has no patient data).
"""

import json

import pytest

from inference.quantify.validate import DEFAULT_ROOT, VOLUMES, read_labelled_volume, run_volume, summarise

pytestmark = pytest.mark.skipif(
    not all((DEFAULT_ROOT / name / "slice-labels.csv").exists() for name in VOLUMES),
    reason=f"real labelled CT absent: {DEFAULT_ROOT} (see ../shared/data/SOURCES.md)",
)


@pytest.fixture(scope="module")
def figures():
    volumes = [read_labelled_volume(DEFAULT_ROOT / name) for name in VOLUMES]
    result = summarise(volumes, [run_volume(volume) for volume in volumes], n_boot=1000)
    print(json.dumps(result, default=str))  # the figures the closing note quotes (pytest -s)
    return result


def test_quantify_volume__normal_lungs_read_under_1_percent_lesion(figures):
    assert figures["volumes"]["normal-normal002"]["lesion_fraction_both"] < 0.01


def test_quantify_volume__normal_lungs_score_severity_at_most_2(figures):
    assert figures["volumes"]["normal-normal002"]["severity_total"] <= 2


@pytest.mark.xfail(strict=True, reason="not met: pooled slice AUC 0.734 (covid-P002 0.78, cap-cap002 0.52): "
                                       "basal and hilar false positives on slices labelled clean; target 0.85")
def test_slice_lesion_fraction__ranks_infected_slices_pooled_over_patients(figures):
    assert figures["pooled_slice_auc"]["value"] >= 0.85


def test_slice_lesion_fraction__ranks_infected_slices_of_the_covid_volume_above_chance(figures):
    auc = figures["volumes"]["covid-P002"]["slice_auc"]
    assert auc["ci95"][0] > 0.5
