"""A dashboard reload with unchanged data reuses the evaluation; any changed input computes a new one."""
from unittest import mock

import numpy as np
import pytest
from django.core.cache import cache

from triage.monitoring import evaluation as ev
from triage.monitoring.evaluation_cache import evaluate_cached


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def arrays(**changes):
    base = {"pcr_positive": np.array([1, 0, 1, 0, 1, 0], dtype=np.int64),
            "probability": np.array([0.9, 0.2, 0.7, 0.4, 0.6, 0.1]),
            "threshold": np.full(6, 0.5), "radiologist_positive": np.array([1, 0, -1, 0, 1, -1], dtype=np.int64)}
    return base | changes


def test_evaluate_cached__same_arrays_evaluate_once_and_give_the_same_numbers():
    with mock.patch.object(ev, "evaluate", wraps=ev.evaluate) as evaluate:
        first = evaluate_cached(**arrays(), n_inconclusive=1, n_boot=200)
        again = evaluate_cached(**arrays(), n_inconclusive=1, n_boot=200)
    assert evaluate.call_count == 1
    assert again == first and again is not first  # a copy: callers add fields to it
    assert again == ev.evaluate(**arrays(), n_inconclusive=1, n_boot=200)


@pytest.mark.parametrize("change", [
    {"probability": np.array([0.9, 0.2, 0.7, 0.4, 0.6, 0.11])},     # a new result
    {"pcr_positive": np.array([1, 0, 1, 0, 1, 1], dtype=np.int64)},  # a corrected PCR
    {"threshold": np.full(6, 0.6)},                                   # a new operating threshold
    {"radiologist_positive": np.array([1, 0, 1, 0, 1, -1], dtype=np.int64)},  # a new signed report
])
def test_evaluate_cached__any_changed_input_is_evaluated_again(change):
    evaluate_cached(**arrays(), n_inconclusive=0, n_boot=200)
    with mock.patch.object(ev, "evaluate", wraps=ev.evaluate) as evaluate:
        evaluate_cached(**arrays(**change), n_inconclusive=0, n_boot=200)
        evaluate_cached(**arrays(), n_inconclusive=1, n_boot=200)  # one more inconclusive PCR
    assert evaluate.call_count == 2
