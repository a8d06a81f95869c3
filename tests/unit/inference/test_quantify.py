"""Tests for lung and lesion quantification (accuracy on phantoms with ground truth)."""

import json
from pathlib import Path

import numpy as np
import pytest

from inference.phantom import make_phantom_volume, write_phantom_series
from inference.quantify import CONSOLIDATION, GGO, MAX_TOTAL_SCORE, quantify_volume, segment_lesions, segment_lungs
from inference.quantify.__main__ import main
from inference.quantify.morphology import fill_holes_per_slice, keep_thick_parts
from inference.quantify.report import peripheral_mask
from inference.quantify.scoring import lesion_hu_statistics, severity_score, zone_index_per_slice
from inference.quantify.vessels import symmetric_eigenvalues, vesselness

REAL_SERIES = Path("/work/shared/data/dicom-series-lung-pet-ct-dx/Lung_Dx-A0002")
PHANTOM_CASES = [
    (48, 128, "moderate", 0),
    (48, 160, "severe", 1),
    (40, 192, "moderate", 2),
    (48, 144, "severe", 7),
]


def dice(a, b):
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


@pytest.fixture(scope="module", params=PHANTOM_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}-seed{c[3]}")
def measured(request):
    slices, size_px, severity, seed = request.param
    hu, spacing_mm, masks, info = make_phantom_volume(slices=slices, size_px=size_px, severity=severity, seed=seed)
    return quantify_volume(hu, spacing_mm=spacing_mm), masks, info


def test_quantify_volume__lesion_volumes_within_5_percent(measured):
    result, _, info = measured
    for kind in ("ggo", "consolidation", "total"):
        assert getattr(result, f"lesion_{kind}_ml") == pytest.approx(info.lesion_ml[kind], rel=0.05), kind
    for side in ("left", "right"):
        assert result.lesion_ml_by_lung[side]["total"] == pytest.approx(
            info.lesion_ml_by_lung[side]["total"], rel=0.05, abs=0.05
        ), side


def test_quantify_volume__lung_dice_at_least_097(measured):
    result, masks, _ = measured
    assert dice(result.lungs.left, masks.lung_left) >= 0.97
    assert dice(result.lungs.right, masks.lung_right) >= 0.97


def test_quantify_volume__lung_volumes_match_truth(measured):
    result, _, info = measured
    measured = {"left": result.lung_left_ml, "right": result.lung_right_ml, "total": result.lung_total_ml}
    for side in ("left", "right", "total"):
        assert measured[side] == pytest.approx(info.lung_ml[side], rel=0.03)


@pytest.mark.parametrize("seed", [0, 11])
def test_quantify_volume__finds_no_lesion_without_disease(seed):
    hu, spacing_mm, _, _ = make_phantom_volume(slices=40, size_px=128, severity="none", seed=seed)
    report = quantify_volume(hu, spacing_mm=spacing_mm).to_dict()
    assert report["lesion_total_ml"] < 0.5
    assert report["severity_total"] == 0
    assert report["lesion_hu"]["mean_hu"] is None
    assert report["pattern"] == {"bilateral": False, "peripheral_share": None, "lower_zone_share": None,
                                 "ggo_share": None}


def test_quantify_volume__does_not_modify_input():
    hu, spacing_mm, _, _ = make_phantom_volume(slices=24, size_px=96, severity="mild")
    before = hu.copy()
    quantify_volume(hu, spacing_mm=spacing_mm)
    np.testing.assert_array_equal(hu, before)


def test_quantify_volume__report_keeps_lesion_share_as_fraction_of_lung():
    hu, spacing_mm, _, info = make_phantom_volume(slices=32, size_px=128, severity="severe", seed=4)
    report = json.loads(json.dumps(quantify_volume(hu, spacing_mm=spacing_mm).to_dict()))
    expected_both = info.lesion_ml["total"] / info.lung_ml["total"]
    expected_left = info.lesion_ml_by_lung["left"]["total"] / info.lung_ml["left"]
    assert report["lesion_fraction_both"] == pytest.approx(expected_both, rel=0.05)
    assert report["lesion_fraction_left"] == pytest.approx(expected_left, rel=0.05)
    assert {(z["lung"], z["zone"]) for z in report["zones"]} == {
        (s, z) for s in ("left", "right") for z in ("upper", "middle", "lower")}
    assert report["severity_total"] == sum(z["score"] for z in report["zones"])
    assert 0 < report["severity_total"] <= report["severity_max"] == MAX_TOTAL_SCORE == 30


def test_quantify_volume__zones_follow_truth_lesion_zones():
    hu, spacing_mm, _, info = make_phantom_volume(slices=48, size_px=128, severity="moderate", seed=0)
    zones = {z.name: z.lesion_fraction for z in quantify_volume(hu, spacing_mm=spacing_mm).zones}
    for lesion in info.lesions:
        assert zones[f"{lesion.lung}_{lesion.zone}"] > 0


def test_quantify_volume__mirrored_image_with_mirrored_orientation_keeps_sides():
    hu, spacing_mm, _, info = make_phantom_volume(slices=32, size_px=128, severity="moderate", seed=5)
    mirrored = quantify_volume(hu[:, :, ::-1], spacing_mm=spacing_mm, orientation=(-1, 0, 0, 0, 1, 0))
    for side in ("left", "right"):
        assert mirrored.lesion_ml_by_lung[side]["total"] == pytest.approx(info.lesion_ml_by_lung[side]["total"], rel=0.03)


def test_quantify_volume__inferior_first_volume_keeps_zones():
    hu, spacing_mm, _, _ = make_phantom_volume(slices=36, size_px=128, severity="severe", seed=6)
    superior_first = quantify_volume(hu, spacing_mm=spacing_mm).zones
    inferior_first = quantify_volume(hu[::-1], spacing_mm=spacing_mm, superior_first=False).zones
    assert [z.lesion_fraction for z in inferior_first] == pytest.approx([z.lesion_fraction for z in superior_first])


def test_segment_lungs__splits_lungs_joined_by_a_bridge():
    hu, spacing_mm, masks, _ = make_phantom_volume(slices=40, size_px=128, severity="mild", seed=2)
    bridged = hu.copy()
    bridge = np.zeros(hu.shape, dtype=bool)
    bridge[12:30, 60:70, 40:88] = True  # junction across the midline (column 64)
    bridged = np.where(bridge, np.float32(-850.0), hu)
    lungs = segment_lungs(bridged, spacing_mm=spacing_mm)
    columns = np.arange(128)[None, None, :]
    assert dice(lungs.left, masks.lung_left | (bridge & (columns >= 64))) >= 0.99
    assert dice(lungs.right, masks.lung_right | (bridge & (columns < 64))) >= 0.99
    assert not (lungs.left & lungs.right).any()


def test_segment_lungs__excludes_trachea_and_outside_air():
    hu, spacing_mm, masks, _ = make_phantom_volume(slices=40, size_px=128, severity="none")
    lungs = segment_lungs(hu, spacing_mm=spacing_mm)
    truth = masks.lung_left | masks.lung_right
    assert not (lungs.both & (hu < -950) & ~truth).any()
    assert not lungs.both[:, 0, :].any() and not lungs.both[:, :, 0].any()


def test_segment_lungs__returns_empty_masks_without_lungs():
    hu = np.full((8, 64, 64), 40.0, dtype=np.float32)
    lungs = segment_lungs(hu, spacing_mm=(2.0, 1.0, 1.0))
    assert not lungs.both.any()


def test_segment_lungs__rejects_bad_geometry():
    with pytest.raises(ValueError):
        segment_lungs(np.zeros((4, 8, 8), np.float32), spacing_mm=(1.0, 1.0))


def _lung_box(shape=(12, 64, 64)):
    hu = np.full(shape, -850.0, dtype=np.float32)
    lung = np.zeros(shape, dtype=bool)
    lung[1:-1, 4:-4, 4:-4] = True
    return hu, lung


def test_segment_lesions__keeps_blob_and_drops_thin_vessel():
    hu, lung = _lung_box()
    zz, yy, xx = np.ogrid[:12, :64, :64]
    blob = ((zz - 6) / 4.0) ** 2 + ((yy - 32) / 8.0) ** 2 + ((xx - 22) / 8.0) ** 2 <= 1.0
    hu[blob] = -550.0
    hu[:, 40, 45] = 40.0  # one-pixel vessel along z
    labels = segment_lesions(hu, lung_mask=lung, spacing_mm=(1.0, 1.0, 1.0))
    np.testing.assert_array_equal(labels > 0, blob)
    assert set(np.unique(labels[blob])) == {GGO}


def test_segment_lesions__labels_consolidation_above_minus_300():
    hu, lung = _lung_box()
    hu[3:9, 20:36, 20:36] = -550.0
    hu[5:7, 26:32, 26:32] = 20.0
    labels = segment_lesions(hu, lung_mask=lung, spacing_mm=(1.0, 1.0, 1.0))
    assert np.count_nonzero(labels == CONSOLIDATION) == 2 * 6 * 6
    assert np.count_nonzero(labels == GGO) == 6 * 16 * 16 - 2 * 6 * 6


def test_segment_lesions__drops_components_below_min_volume():
    hu, lung = _lung_box()
    hu[3:6, 10:17, 10:17] = -500.0  # 147 voxels = 0.147 ml at 1 mm³
    labels = segment_lesions(hu, lung_mask=lung, spacing_mm=(1.0, 1.0, 1.0), min_lesion_ml=0.2)
    assert not labels.any()


def test_segment_lesions__rejects_inverted_thresholds():
    hu, lung = _lung_box()
    with pytest.raises(ValueError):
        segment_lesions(hu, lung_mask=lung, spacing_mm=(1, 1, 1), ggo_min_hu=-300, consolidation_min_hu=-750)


def test_fill_holes_per_slice__fills_enclosed_but_not_open_regions():
    mask = np.zeros((5, 9, 9), dtype=bool)
    mask[:, 2:7, 2:7] = True
    mask[1, 4, 4] = False  # a vessel-like hole, lung above and below
    mask[3, 4, 2:5] = False  # slice 3: a channel open to the outside
    filled = fill_holes_per_slice(mask)
    assert filled[1, 4, 4]
    assert not filled[3, 4, 4]


def test_fill_holes_per_slice__leaves_an_organ_dome_rising_into_the_lung_open():
    mask = np.zeros((6, 12, 12), dtype=bool)
    mask[:, 1:11, 1:11] = True
    mask[3:, 4:8, 4:8] = False  # dome: enclosed in slices 3-4, joins the outside in slice 5 below
    mask[5, 4:8, 1:4] = False
    mask[1, 6, 6] = False  # an enclosed vessel in slice 1
    filled = fill_holes_per_slice(mask)
    assert not filled[3:, 4:8, 4:8].any()
    assert filled[1, 6, 6]


def test_keep_thick_parts__removes_tube_attached_to_blob_beyond_reach():
    mask = np.zeros((5, 40, 40), dtype=bool)
    mask[:, 10:22, 10:22] = True
    mask[:, 15, 22:38] = True  # one-voxel tube leaving the blob
    kept = keep_thick_parts(mask, radius_px=2)
    assert kept[:, 10:22, 10:22].all()
    assert not kept[:, 15, 26:].any()


@pytest.mark.parametrize(
    "fraction, score", [(0.0, 0), (0.009, 0), (0.01, 1), (0.049, 1), (0.05, 2), (0.2, 2), (0.25, 3), (0.6, 4), (0.75, 5), (1.0, 5)]
)
def test_severity_score__maps_fraction_to_0_to_5(fraction, score):
    assert severity_score(fraction) == score


@pytest.mark.parametrize("superior_first, expected_first_zone", [(True, 0), (False, 2)])
def test_zone_index_per_slice__splits_lung_extent_in_thirds(superior_first, expected_first_zone):
    lung = np.zeros((15, 4, 4), dtype=bool)
    lung[3:12, 1, 1] = True
    zones = zone_index_per_slice(lung, superior_first=superior_first)
    assert list(zones[:3]) == [-1, -1, -1] and list(zones[12:]) == [-1, -1, -1]
    assert list(zones[3:6]) == [expected_first_zone] * 3
    assert list(zones[6:9]) == [1] * 3


def test_lesion_hu_statistics__matches_numpy_and_clips_histogram():
    values = np.array([-1200.0, -700.0, -500.0, -480.0, -20.0, 300.0])
    stats = lesion_hu_statistics(values)
    assert stats.mean_hu == pytest.approx(np.mean(values))
    assert stats.sd_hu == pytest.approx(np.std(values))
    assert stats.percentiles_hu["p50"] == pytest.approx(-490.0)
    assert stats.voxels == 6
    counts = stats.histogram_counts
    edges = stats.histogram_edges_hu
    assert len(edges) == len(counts) + 1 == 23 and edges[0] == -1000 and edges[-1] == 100
    assert sum(counts) == 6 and counts[0] == 1 and counts[-1] == 1
    assert counts[(-500 + 1000) // 50] == 2  # -500 and -480 share the [-500, -450) bin


def test_main__prints_report_for_written_series(tmp_path, capsys):
    info = write_phantom_series(tmp_path, slices=40, size_px=128, severity="moderate", seed=9)
    main([str(tmp_path)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["lesion_total_ml"] == pytest.approx(info.lesion_ml["total"], rel=0.05)
    assert report["lung_left_ml"] == pytest.approx(info.lung_ml["left"], rel=0.03)
    for side in ("left", "right"):
        assert report["lesion_ml_by_lung"][side]["total"] == pytest.approx(
            info.lesion_ml_by_lung[side]["total"], rel=0.05, abs=0.05
        )
    zones = {(z["lung"], z["zone"]): z for z in report["zones"]}
    for lesion in info.lesions:  # each lesion is found in its zone; a small one may score 0 (under 1 % of it)
        assert zones[(lesion.lung, lesion.zone)]["lesion_fraction"] > 0
    assert all(z["score"] == severity_score(z["lesion_fraction"]) for z in zones.values())
    assert {"mean_hu", "sd_hu", "histogram_counts"} <= set(report["lesion_hu"])


def test_main__quantifies_real_ct_series_plausibly(capsys):
    if not REAL_SERIES.is_dir():
        pytest.skip(f"reference data absent: {REAL_SERIES} (see /work/shared/data/SOURCES.md)")
    series_dir = next(path.parent for path in REAL_SERIES.rglob("*.dcm"))
    main([str(series_dir)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 500 < report["lung_left_ml"] < 4000 and 500 < report["lung_right_ml"] < 4000
    assert 0 <= report["lesion_fraction_both"] <= 1


@pytest.mark.parametrize("slices, size_px, severity", [(32, 384, "moderate"), (24, 448, "severe")])
def test_quantify_volume__stays_within_5_percent_with_partial_volume_at_fine_pixels(slices, size_px, severity):
    # At these pixel sizes the phantom's 0.5 mm point-spread function blurs edges over ~0.6 px,
    # so thresholds meet partial-volume voxels at every lesion, vessel and pleural edge.
    hu, spacing_mm, masks, info = make_phantom_volume(slices=slices, size_px=size_px, severity=severity, seed=12)
    result = quantify_volume(hu, spacing_mm=spacing_mm)
    assert result.lesion_total_ml == pytest.approx(info.lesion_ml["total"], rel=0.05)
    assert result.lesion_ggo_ml == pytest.approx(info.lesion_ml["ggo"], rel=0.05)
    assert dice(result.lungs.both, masks.lung_left | masks.lung_right) >= 0.97


def test_main__exits_with_usage_error_without_dicom_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not DICOM")
    with pytest.raises(SystemExit) as excinfo:
        main([str(tmp_path)])
    assert excinfo.value.code == 2


def test_symmetric_eigenvalues__match_numpy_eigvalsh():
    rng = np.random.default_rng(3)
    matrices = rng.normal(size=(200, 3, 3))
    matrices = matrices + matrices.transpose(0, 2, 1)
    entries = {"zz": matrices[:, 0, 0], "yy": matrices[:, 1, 1], "xx": matrices[:, 2, 2],
               "zy": matrices[:, 0, 1], "zx": matrices[:, 0, 2], "yx": matrices[:, 1, 2]}
    expected = np.linalg.eigvalsh(matrices)
    expected = np.take_along_axis(expected, np.argsort(np.abs(expected), axis=1), axis=1)
    np.testing.assert_allclose(symmetric_eigenvalues(entries), expected, atol=1e-9)


def test_vesselness__high_on_tube_axis_low_inside_blob():
    zz, yy, xx = np.ogrid[:40, :60, :60]
    hu = np.full((40, 60, 60), -850.0, dtype=np.float32)
    hu[np.broadcast_to((yy - 30) ** 2 + (xx - 15) ** 2 <= 9, hu.shape)] = 40.0  # tube along z, 6 mm wide
    blob = (zz - 20) ** 2 + (yy - 30) ** 2 + (xx - 42) ** 2 <= 100
    hu[blob] = -20.0
    where = hu > -750
    measure = vesselness(hu, where=where, spacing_mm=(1.0, 1.0, 1.0))
    assert measure[20, 30, 15] > 0.5
    assert measure[blob].mean() < 0.1


def test_segment_lesions__drops_6_mm_soft_tissue_vessel_running_through_the_slices():
    hu, lung = _lung_box((40, 80, 80))
    _, yy, xx = np.ogrid[:40, :80, :80]
    vessel = np.broadcast_to((yy - 40) ** 2 + (xx - 40) ** 2 <= 9, hu.shape) & lung
    hu[vessel] = 40.0
    labels = segment_lesions(hu, lung_mask=lung, spacing_mm=(1.0, 1.0, 1.0))
    assert np.count_nonzero(labels) <= 0.01 * np.count_nonzero(vessel)


def test_peripheral_mask__takes_the_outer_third_of_each_slice():
    lung = np.zeros((3, 90, 90), dtype=bool)
    _, yy, xx = np.ogrid[:3, :90, :90]
    lung[np.broadcast_to((yy - 45) ** 2 + (xx - 45) ** 2 <= 40**2, lung.shape)] = True
    outer = peripheral_mask(lung, spacing_mm=(1.0, 1.0, 1.0))
    assert outer[1, 45, 10] and outer[1, 45, 80] and not outer[1, 45, 45] and not (outer & ~lung).any()
    assert 0.45 < np.count_nonzero(outer) / np.count_nonzero(lung) < 0.65  # outer third of the radius: 5/9 of the area


def test_quantify_volume__pattern_reports_bilateral_lower_and_ggo_share():
    hu, spacing_mm, _, info = make_phantom_volume(slices=48, size_px=160, severity="severe", seed=1)
    pattern = quantify_volume(hu, spacing_mm=spacing_mm).pattern
    assert pattern.bilateral
    assert pattern.ggo_share == pytest.approx(info.lesion_ml["ggo"] / info.lesion_ml["total"], abs=0.05)
    assert 0.0 < pattern.lower_zone_share < 1.0 and 0.0 < pattern.peripheral_share < 1.0


@pytest.mark.parametrize("padding_hu", [-2048.0, -3024.0])
def test_segment_lungs__ignores_padding_outside_the_scan_circle(padding_hu):
    hu, spacing_mm, masks, _ = make_phantom_volume(slices=32, size_px=128, severity="none", seed=3)
    _, yy, xx = np.ogrid[:1, :128, :128]
    padded = np.where(np.broadcast_to((yy - 63.5) ** 2 + (xx - 63.5) ** 2 > 63.0**2, hu.shape), np.float32(padding_hu), hu)
    lungs = segment_lungs(padded, spacing_mm=spacing_mm)
    assert dice(lungs.both, masks.lung_left | masks.lung_right) >= 0.97
