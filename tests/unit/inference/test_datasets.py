"""Tests of inference.datasets: listing, grouping, patient-level splits, split files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

from inference.datasets import (
    list_slice_dataset,
    load_slice_for_model,
    paper_prefix_group,
    patient_groups,
    patient_level_split,
    read_split_paths,
    read_xlsx_rows,
    write_split_file,
)
from tests.unit.inference.factories import make_ct_slice, require_shared


def test_list_slice_dataset__labels_sorted_class_folders(tiny_dataset):
    dataset = list_slice_dataset(tiny_dataset)
    assert dataset.class_names == ("covid", "non-covid") and dataset.positive_index == 0
    assert len(dataset.relative_paths) == 12 and dataset.labels.tolist() == [0] * 6 + [1] * 6


def test_list_slice_dataset__needs_two_classes(tmp_path):
    (tmp_path / "covid").mkdir()
    with pytest.raises(ValueError, match="two class"):
        list_slice_dataset(tmp_path)


@pytest.mark.parametrize(
    "path, group",
    [("covid/2020.02.10.20021584-p6-52%0.png", "covid:2020.02.10.20021584"), ("non-covid/1%3.jpg", "non-covid:1"), ("covid/x.png", "covid:x")],
)
def test_paper_prefix_group__strips_page_and_figure_suffix(path, group):
    assert paper_prefix_group(path) == group


def test_patient_level_split__never_splits_a_patient_and_covers_all_images():
    rng = np.random.default_rng(0)
    groups = [f"p{g}" for g in rng.integers(0, 40, 300)]
    labels = np.array([int(g[1:]) % 2 for g in groups])
    splits = patient_level_split(groups, labels, seed=1)
    owners = {}
    for name, indices in splits.items():
        for index in indices:
            assert owners.setdefault(groups[index], name) == name
    assert sorted(np.concatenate(list(splits.values())).tolist()) == list(range(300))
    assert 0.05 < splits["test"].size / 300 < 0.3 and 0.05 < splits["val"].size / 300 < 0.3


def test_patient_level_split__is_reproducible_with_seed():
    groups, labels = [f"p{i // 2}" for i in range(60)], np.arange(60) // 30
    first = patient_level_split(groups, labels, seed=4)
    assert all(np.array_equal(first[k], v) for k, v in patient_level_split(groups, labels, seed=4).items())


def test_write_split_file__round_trips_relative_paths(tmp_path, tiny_dataset):
    dataset = list_slice_dataset(tiny_dataset)
    splits = {"train": np.array([0, 6]), "val": np.array([1]), "test": np.array([2, 7])}
    write_split_file(tmp_path / "s.json", dataset=dataset, split_indices=splits, grouping="test")
    test_paths = read_split_paths(tmp_path / "s.json")
    assert test_paths == [dataset.relative_paths[2], dataset.relative_paths[7]]
    assert dataset.subset(test_paths).labels.tolist() == [0, 1]


def test_read_xlsx_rows__reads_shared_and_inline_numbers(tmp_path):
    path = tmp_path / "t.xlsx"
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/sharedStrings.xml", f"<sst {ns}><si><t>File name</t></si><si><t>Patient ID</t></si><si><t>a.png</t></si></sst>")
        archive.writestr("xl/worksheets/sheet1.xml", f'<worksheet {ns}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
                         f'<c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>7</v></c></row>'
                         "</sheetData></worksheet>")
    assert read_xlsx_rows(path) == [{"File name": "a.png", "Patient ID": "7"}]


def test_patient_groups__uses_ucsd_meta_patient_ids():
    dataset = list_slice_dataset(require_shared("ucsd-covid-ct"))
    groups, source = patient_groups(dataset)
    assert f"{len(groups)}/{len(groups)} images" in source
    covid_patient_one = {p for p, g in zip(dataset.relative_paths, groups, strict=True) if g == "covid:Patient 1"}
    assert covid_patient_one == {f"covid/2020.01.24.919183-p27-{n}.png" for n in range(132, 136)}


def test_load_slice_for_model__windows_dicom_and_resizes_images(tmp_path):
    stored = np.full((40, 40), 1024 - 1000, np.uint16)  # air, -1000 HU
    stored[5:35, 5:35] = 1024 + 40  # body, 40 HU
    make_ct_slice(stored, z_mm=0).save_as(tmp_path / "slice.dcm", enforce_file_format=True)
    from_dicom = load_slice_for_model(tmp_path / "slice.dcm", size_px=16)
    assert from_dicom.shape == (16, 16) and from_dicom.dtype == np.uint8
    assert from_dicom.max() == round((40 + 1350) / 1500 * 255)  # body grey level in the lung window
    Image.fromarray(np.full((10, 20), 200, np.uint8)).save(tmp_path / "slice.png")
    from_png = load_slice_for_model(tmp_path / "slice.png", size_px=16)
    assert from_png.shape == (16, 16) and from_png[8, 8] == 200 and from_png[0, 8] == 0  # padded rows are black
