"""The three-stage analysis (prepare on CPU, classify on GPU, finish on CPU) against the one-process path."""

from __future__ import annotations

import io

import numpy as np
import pytest

from inference.analysis import StageTimer, analyse_volume
from inference.dicom_io import read_series
from inference.phantom import write_phantom_series
from inference.stages import (ClassifiedSlices, PreparedSlices, classify_prepared, finish_analysis, from_npz,
                              prepare_slices, to_npz)
from tests.unit.inference.test_analysis import SIZE_PX, loaded  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom")
    write_phantom_series(out, slices=20, size_px=96, severity="moderate", seed=7)
    return read_series(sorted(out.glob("*.dcm")))


def through_blobs(volume, loaded):
    """Run the stages as the workers do: each stage's output crosses a process boundary as bytes."""
    prepared = prepare_slices(volume, card=loaded.card, timer=StageTimer({"decode": 0.5}))
    prepared_back, header = from_npz(to_npz(prepared, header={"model_version_id": 3}))
    assert isinstance(prepared_back, PreparedSlices) and header["model_version_id"] == 3
    classified = classify_prepared(prepared_back, loaded=loaded, batch_size=4, key_slices=3,
                                   timer=StageTimer(prepared_back.stage_seconds))
    classified_back, _ = from_npz(to_npz(classified, header={}))
    assert isinstance(classified_back, ClassifiedSlices)
    return finish_analysis(volume, classified_back, card=loaded.card, timer=StageTimer(classified_back.stage_seconds))


def test_stages__give_the_one_process_analysis(volume, loaded):
    staged = through_blobs(volume, loaded)
    whole = analyse_volume(volume, loaded=loaded, batch_size=4, key_slices=3)
    assert staged.covid_probability == pytest.approx(whole.covid_probability, abs=1e-5)
    assert staged.class_probabilities == pytest.approx(whole.class_probabilities, abs=1e-5)
    assert staged.key_slice_indices == whole.key_slice_indices
    assert [s.slice_index for s in staged.slice_scores] == [s.slice_index for s in whole.slice_scores]
    assert staged.applicability.reasons == whole.applicability.reasons
    assert staged.quantification.lesion_total_ml == pytest.approx(whole.quantification.lesion_total_ml)
    assert [(o.slice_index, o.kind) for o in staged.overlays] == [(o.slice_index, o.kind) for o in whole.overlays]
    assert staged.overlays[0].png.startswith(b"\x89PNG")


def test_stages__stage_seconds_cover_every_stage_and_carry_earlier_ones(volume, loaded):
    staged = through_blobs(volume, loaded)
    assert staged.stage_seconds["decode"] >= 0.5  # the prepare worker's decode, carried through both blobs
    assert {"preprocess", "classify", "aggregate", "explain", "quantify", "domain", "render"} <= set(staged.stage_seconds)


def test_prepared_blob__holds_the_uint8_model_input_and_no_pickles(volume, loaded):
    prepared = prepare_slices(volume, card=loaded.card, timer=StageTimer())
    data = to_npz(prepared, header={})
    assert prepared.slices_uint8.dtype == np.uint8 and prepared.slices_uint8.shape[1:] == (SIZE_PX, SIZE_PX)
    assert len(data) < prepared.slices_uint8.nbytes + 4096
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:  # readable without pickle
        assert set(arrays.files) == {"slice_indices", "lung_fraction", "crop_box_yx", "slices_uint8", "header"}


def test_padded_batches__every_batch_has_the_same_shape_and_the_slices_stay_in_order():
    from inference.stages import padded_batches

    slices = np.arange(10 * 2 * 2, dtype=np.uint8).reshape(10, 2, 2)
    batches = list(padded_batches(slices, 4))
    assert [b.shape for b in batches] == [(4, 2, 2)] * 3
    assert np.array_equal(np.concatenate(batches)[:10], slices) and not batches[-1][2:].any()
