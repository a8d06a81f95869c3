
import pytest

import numpy as np

from inference.analysis import OverlayImage, SliceScore, StudyAnalysis
from inference.domain import Applicability
from inference.quantify import MAX_TOTAL_SCORE, LesionPattern, LungMasks, ZoneInvolvement
from inference.quantify import Quantification as MeasuredQuantification
from inference.quantify.scoring import lesion_hu_statistics
from triage.audit.models import AuditEvent
from triage.results.models import ModelVersion, Overlay, Quantification, Result
from triage.results.services import quantification_fields, store_analysis
from triage.studies.models import Study

def measured_quantification() -> MeasuredQuantification:
    """A typed quantification as the worker hands it over (masks tiny: only the numbers are stored)."""
    empty = np.zeros((2, 4, 4), dtype=bool)
    hu = lesion_hu_statistics(np.array([-520.0, -480.0, -440.0]))
    zones = tuple(ZoneInvolvement(lung=side, zone=zone, lesion_fraction=0.06 if (side, zone) == ("left", "upper") else 0.0,
                                  peripheral_fraction=0.1 if (side, zone) == ("left", "upper") else 0.0,
                                  central_fraction=0.02 if (side, zone) == ("left", "upper") else 0.0,
                                  score=2 if (side, zone) == ("left", "upper") else 0)
                  for side in ("left", "right") for zone in ("upper", "middle", "lower"))
    return MeasuredQuantification(
        lung_left_ml=1800.0, lung_right_ml=2000.0, lesion_ggo_ml=60.0, lesion_consolidation_ml=16.0,
        lesion_total_ml=76.0, lesion_ml_by_lung={"left": {"ggo": 45.0, "consolidation": 0.0, "total": 45.0},
                                                 "right": {"ggo": 15.0, "consolidation": 16.0, "total": 31.0}},
        lesion_fraction_left=0.025, lesion_fraction_right=0.0155, lesion_fraction_both=0.02,
        lesion_hu=hu, ggo_hu=hu, consolidation_hu=lesion_hu_statistics(np.array([])), dependent_density_ml=1.5,
        zones=zones,
        severity_total=2, severity_max=MAX_TOTAL_SCORE,
        pattern=LesionPattern(bilateral=True, peripheral_share=0.7, lower_zone_share=0.1, ggo_share=0.79),
        lungs=LungMasks(left=empty, right=empty.copy()), lesion_labels=np.zeros((2, 4, 4), dtype=np.uint8),
    )


def fake_analysis(probability: float = 0.8, *, reasons: tuple[str, ...] = ()) -> StudyAnalysis:
    rest = (1 - probability) / 2
    return StudyAnalysis(
        class_names=("normal", "pneumonia", "covid"),
        class_probabilities={"normal": rest, "pneumonia": rest, "covid": probability},
        covid_probability=probability, covid_probability_uncalibrated=0.9, predicted_label="covid",
        slice_scores=[SliceScore(i, float(i), 0.5) for i in range(3, 9)], key_slice_indices=[5, 6],
        quantification=measured_quantification(),
        overlays=[OverlayImage(5, "gradcam", b"\x89PNG-a", b"\x89PNG-h", 64, 64),
                  OverlayImage(5, "lesion", b"\x89PNG-b", None, 64, 64)],
        applicability=Applicability(not reasons, list(reasons)),
        stage_seconds={"classify": 1.0},
    )


@pytest.fixture
def model_version(db):
    return ModelVersion.objects.create(name="m", version="1", weights_sha256="a" * 64, class_names=["normal", "pneumonia", "covid"],
                                       input_size_px=224, is_active=True)


@pytest.fixture
def make_study(hospital_a):
    def make(status: str = "processing", **fields) -> Study:
        return Study.objects.create(hospital=hospital_a, study_instance_uid=f"1.2.{Study.objects.count() + 1}",
                                    status=status, **fields)
    return make


@pytest.mark.django_db
def test_quantification_fields__stores_fractions_and_every_field_as_measured():
    measured = measured_quantification()
    fields = quantification_fields(measured)
    assert fields["lesion_fraction_both"] == 0.02 and fields["lesion_fraction_left"] == 0.025
    assert fields["severity_total"] == 2 and fields["severity_max"] == 30 and fields["lesion_total_ml"] == 76.0
    assert fields["lesion_hu_mean"] == pytest.approx(-480.0)
    assert fields["lesion_hu_percentiles"]["p50"] == pytest.approx(-480.0)
    assert fields["zones"]["left_upper"] == {"lesion_fraction": 0.06, "peripheral_fraction": 0.1,
                                             "central_fraction": 0.02, "score": 2}
    assert fields["lesion_pattern"]["peripheral_share"] == 0.7 and fields["dependent_density_ml"] == 1.5
    assert sum(fields["lesion_hu_histogram"]["counts"]) == 3
    Quantification(**fields).full_clean(exclude=["result"])


@pytest.mark.django_db
def test_store_analysis__writes_every_row_and_audits_leaving_the_status_to_the_pipeline(make_study, model_version):
    study = make_study()
    result = store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
    study.refresh_from_db()
    assert study.status == "processing" and result.is_current
    assert result.slice_scores.count() == 6 and result.covid_probability == 0.8
    assert Quantification.objects.get(result=result).lesion_fraction_both == pytest.approx(0.02)
    assert Overlay.objects.filter(result=result).count() == 2
    event = AuditEvent.objects.get(action="result.created")
    assert event.hospital == study.hospital and event.extra["model"] == "m/1"


@pytest.mark.django_db
def test_store_analysis__a_new_model_keeps_the_old_result_but_not_as_current(make_study, model_version):
    study = make_study()
    first = store_analysis(study=study, model_version=model_version, analysis=fake_analysis(0.8))
    newer = ModelVersion.objects.create(name="m", version="2", weights_sha256="b" * 64,
                                        class_names=["normal", "pneumonia", "covid"], input_size_px=224)
    second = store_analysis(study=study, model_version=newer, analysis=fake_analysis(0.3))
    first.refresh_from_db()
    assert not first.is_current and second.is_current
    assert Result.objects.filter(study=study).count() == 2


@pytest.mark.django_db
def test_store_analysis__worklist_row_shows_the_new_result_at_once(make_study, model_version):
    from triage.worklist.models import WorklistEntry

    study = make_study(status="processing")
    store_analysis(study=study, model_version=model_version, analysis=fake_analysis(0.8))
    entry = WorklistEntry.objects.get(study=study)
    assert (entry.status, entry.covid_probability, entry.severity_total) == ("processing", 0.8, 2)
    assert entry.lesion_fraction_both == pytest.approx(0.02)


@pytest.mark.django_db
def test_store_analysis__not_applicable_study_keeps_its_reasons_and_no_worklist_probability(make_study, model_version):
    from triage.worklist.models import WorklistEntry
    from triage.worklist.services import NOT_APPLICABLE_LABEL

    study = make_study(status="processing")
    reasons = ("no chest CT with lungs in the field of view (0 ml of lung; at least 1000 ml needed)",)
    result = store_analysis(study=study, model_version=model_version, analysis=fake_analysis(0.9, reasons=reasons))
    result.refresh_from_db()
    assert result.applicable is False and result.not_applicable_reasons == list(reasons)
    entry = WorklistEntry.objects.get(study=study)
    # No meaningful probability: the study sorts with the un-analysed ones, oldest first, and says why.
    assert (entry.covid_probability, entry.sort_probability, entry.predicted_label) == (None, -1.0, NOT_APPLICABLE_LABEL)
    assert entry.not_applicable_reason == reasons[0]


@pytest.mark.django_db
def test_store_analysis__applicable_study_is_marked_applicable(make_study, model_version):
    result = store_analysis(study=make_study(), model_version=model_version, analysis=fake_analysis(0.7))
    result.refresh_from_db()
    assert result.applicable is True and result.not_applicable_reasons == []
