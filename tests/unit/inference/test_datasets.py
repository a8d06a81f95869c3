"""Tests of inference.datasets: listing, grouping, patient-level splits, split files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from inference.datasets import (
    list_slice_dataset,
    paper_prefix_group,
    patient_groups,
    patient_level_split,
    read_split_paths,
    read_xlsx_rows,
    write_split_file,
)
from tests.unit.inference.factories import require_shared


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
