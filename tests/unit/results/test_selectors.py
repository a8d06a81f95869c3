import pytest

from tests.unit.reports.factories import make_result, make_study
from triage.results.models import ModelVersion, Result
from triage.results.selectors import current_result_for, current_results, key_slices, known_class_labels

pytestmark = pytest.mark.django_db


def test_current_result_for__is_the_current_one_of_several(hospital_a):
    study = make_study(hospital=hospital_a)
    newer = ModelVersion.objects.create(name="m", version="2", weights_sha256="b" * 64, class_names=["covid"],
                                        input_size_px=224)
    Result.objects.create(study=study, model_version=newer, covid_probability=0.2,
                          covid_probability_uncalibrated=0.2, predicted_label="normal", class_probabilities={"covid": 0.2},
                          slices_scored=1, is_current=False)
    current = make_result(study=study, covid_probability=0.7, overlays=False)
    assert current_result_for(study=study) == current
    assert list(current_results(studies=[study])) == [current]


def test_current_result_for__none_without_result(hospital_a):
    assert current_result_for(study=make_study(hospital=hospital_a)) is None


def test_known_class_labels__union_of_every_model_version_sorted(db):
    assert known_class_labels() == []
    for version, names in [("1", ["non-covid", "covid"]), ("2", ["covid", "cap"])]:
        ModelVersion.objects.create(name="m", version=version, weights_sha256=version * 64, class_names=names,
                                    input_size_px=224)
    assert known_class_labels() == ["cap", "covid", "non-covid"]


def test_key_slices__one_based_numbers_with_overlay_kinds_in_slice_order(hospital_a):
    result = make_result(study=make_study(hospital=hospital_a))  # overlays on slice 12
    Result.objects.filter(id=result.id).update(key_slice_indices=[30, 12, 0])
    result.refresh_from_db()
    slices = key_slices(result=result)
    assert [(k.index, k.number) for k in slices] == [(0, 1), (12, 13), (30, 31)]
    assert slices[1].kinds == ("gradcam", "lesion") and slices[0].kinds == ()
