import math

import numpy as np
import pytest

from triage.studies.geometry import SliceGeometry, is_axial, order_slices, select_stack, slice_normal

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def make_slices(n, *, series_id=1, orientation=AXIAL, thickness=1.0, size=512, step=1.0, positions=True,
                start_id=0):
    return [SliceGeometry(instance_id=start_id + i, series_id=series_id, series_number=series_id, rows=size,
                          columns=size, image_orientation_patient=orientation,
                          image_position_patient=(0.0, 0.0, -i * step) if positions else None,
                          instance_number=i + 1, slice_thickness_mm=thickness) for i in range(n)]


@pytest.mark.parametrize("tilt_deg, expected", [(0, True), (9.5, True), (10.5, False), (90, False)])
def test_is_axial__within_ten_degrees(tilt_deg, expected):
    t = math.radians(tilt_deg)
    orientation = (1.0, 0.0, 0.0, 0.0, math.cos(t), math.sin(t))
    assert is_axial(orientation) is expected


def test_slice_normal__matches_cross_product():
    assert np.allclose(slice_normal(CORONAL), np.cross([1, 0, 0], [0, 0, -1]))


def test_select_stack__most_slices_wins_then_thinnest():
    thick = make_slices(20, series_id=1, thickness=5.0)
    thin = make_slices(20, series_id=2, thickness=1.0, start_id=100)
    fewer = make_slices(10, series_id=3, thickness=0.5, start_id=200)
    assert select_stack(thick + thin + fewer)[0].series_id == 2


def test_select_stack__ignores_coronal_and_too_short_series():
    assert select_stack(make_slices(30, orientation=CORONAL) + make_slices(5, series_id=2, start_id=50)) is None


def test_select_stack__splits_inconsistent_sizes_within_series():
    stack = select_stack(make_slices(10, size=512) + make_slices(9, size=256, start_id=50))
    assert {s.rows for s in stack} == {512} and len(stack) == 10


def test_order_slices__sorts_by_position_along_normal():
    slices = make_slices(5, step=2.5)[::-1]
    ordered = order_slices(list(reversed(slices)))
    assert ordered.z_positions_mm == (-10.0, -7.5, -5.0, -2.5, 0.0)
    assert ordered.instance_ids == (4, 3, 2, 1, 0)
    assert ordered.spacing_between_slices_mm == 2.5 and ordered.ordered_by == "image_position_patient"


def test_order_slices__falls_back_to_instance_number():
    ordered = order_slices(make_slices(4, thickness=3.0, positions=False)[::-1])
    assert ordered.ordered_by == "instance_number"
    assert ordered.instance_ids == (0, 1, 2, 3) and ordered.spacing_between_slices_mm == 3.0


def test_stack_gaps__finds_missing_slices_by_position_and_by_instance_number():
    from triage.studies.geometry import StackGap, stack_gaps

    whole = [float(z) for z in range(0, 50, 5)]
    assert stack_gaps(whole, list(range(1, 11))) == []
    holed = whole[:4] + whole[7:]  # slices at 20, 25, 30 mm (InstanceNumbers 5-7) are missing
    numbers = [1, 2, 3, 4, 8, 9, 10]
    assert stack_gaps(holed, numbers) == [StackGap(after_slice=4, missing=3, gap_mm=20.0, instance_numbers=(5, 7))]
    # Without positions the InstanceNumber run still tells
    assert stack_gaps([None] * 7, numbers) == [StackGap(after_slice=4, missing=3, instance_numbers=(5, 7))]
    # A renumbered but contiguous stack is whole
    assert stack_gaps(whole, [n * 2 for n in range(10)]) == []
