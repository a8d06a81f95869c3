
import pytest

from inference.analysis import OverlayImage, SliceScore, StudyAnalysis
from triage.audit.models import AuditEvent
from triage.results.models import ModelVersion, Overlay, Quantification, Result
from triage.results.services import quantification_fields, store_analysis
from triage.studies.models import Study

REPORT = {
    "lung_ml": {"left": 1800.0, "right": 2000.0, "total": 3800.0},
    "lesion_ml": {"ggo": 60.0, "consolidation": 16.0, "total": 76.0},
    "percent": {"left": 2.5, "right": 1.55, "both": 2.0},
    "lesion_hu": {"mean": -480.0, "sd": 120.0, "percentiles": {"p50": -500.0},
                  "histogram": {"bin_edges_hu": [-1000, -950], "counts": [3]}},
    "severity": {"total": 4, "zones": {"left_upper": {"involvement_fraction": 0.06, "score": 2}}},
}


def fake_analysis(probability: float = 0.8) -> StudyAnalysis:
    return StudyAnalysis(
        class_names=("non-covid", "covid"), class_probabilities={"non-covid": 1 - probability, "covid": probability},
        covid_probability=probability, covid_probability_uncalibrated=0.9, predicted_label="covid",
        slice_scores=[SliceScore(i, float(i), 0.5) for i in range(3, 9)], key_slice_indices=[5, 6],
        quantification=REPORT,
        overlays=[OverlayImage(5, "gradcam", b"\x89PNG-a", b"\x89PNG-h", 64, 64),
                  OverlayImage(5, "lesion", b"\x89PNG-b", None, 64, 64)],
        stage_seconds={"classify": 1.0},
    )


@pytest.fixture
def model_version(db):
    return ModelVersion.objects.create(name="m", version="1", weights_sha256="a" * 64, class_names=["non-covid", "covid"],
                                       input_size_px=224, is_active=True)


@pytest.fixture
def make_study(hospital_a):
    def make(status: str = "processing", **fields) -> Study:
        return Study.objects.create(hospital=hospital_a, study_instance_uid=f"1.2.{Study.objects.count() + 1}",
                                    status=status, **fields)
    return make


@pytest.mark.django_db
def test_quantification_fields__converts_percent_to_fractions():
    fields = quantification_fields(REPORT)
    assert fields["lesion_fraction_both"] == pytest.approx(0.02)
    assert fields["lesion_fraction_left"] == pytest.approx(0.025)
    assert fields["severity_total"] == 4 and fields["lesion_total_ml"] == 76.0


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
                                        class_names=["non-covid", "covid"], input_size_px=224)
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
    assert (entry.status, entry.covid_probability, entry.severity_total) == ("processing", 0.8, 4)
    assert entry.lesion_fraction_both == pytest.approx(0.02)
