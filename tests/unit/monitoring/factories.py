"""Plain factories for monitoring tests: studies with a current AI result, PCR outcome and signed report."""
import itertools
from datetime import date, datetime, timedelta

from django.utils import timezone

from triage.decisions.models import PcrOutcome
from triage.reports.models import Report
from triage.results.models import ModelVersion, Quantification, Result
from triage.studies.models import Study

CLASS_NAMES = ["covid", "normal", "pneumonia"]
_counter = itertools.count(1)


def model_version() -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        name="test-model", version="1",
        defaults={"weights_sha256": "0" * 64, "class_names": CLASS_NAMES, "input_size_px": 64,
                  "card": {"positive_class": "covid", "class_names": CLASS_NAMES}})
    return version


def make_case(*, hospital, probability: float | None = 0.5, pcr: str | None = None, radiologist: str | None = None,
              signer=None, received_at: datetime | None = None, status: str = Study.Status.READY,
              failure_reason: str = "", ready_after_s: float = 60.0, quantify: bool = False,
              **study_fields) -> Study:
    """Create a study (and its current result, PCR outcome and signed report when asked)."""
    n = next(_counter)
    study_fields.setdefault("accession_number", f"ACC{n:05d}")
    study = Study.objects.create(hospital=hospital, study_instance_uid=f"1.2.826.0.1.3680043.2.1125.9.{n}",
                                 status=status, failure_reason=failure_reason, **study_fields)
    received_at = received_at or timezone.now() - timedelta(hours=1)
    Study.objects.filter(pk=study.pk).update(received_at=received_at,
                                             status_changed_at=received_at + timedelta(seconds=ready_after_s))
    study.refresh_from_db()
    result = None
    if probability is not None:
        label = "covid" if probability >= 0.5 else "normal"
        result = Result.objects.create(
            study=study, model_version=model_version(), class_probabilities={"covid": probability},
            covid_probability=probability, covid_probability_uncalibrated=probability, predicted_label=label,
            slices_scored=10)
        if quantify:
            Quantification.objects.create(
                result=result, lung_left_ml=2000, lung_right_ml=2200, lesion_ggo_ml=100, lesion_consolidation_ml=26,
                lesion_total_ml=126, lesion_fraction_left=0.03, lesion_fraction_right=0.03,
                lesion_fraction_both=0.03, severity_total=7)
    if pcr is not None:
        PcrOutcome.objects.create(study=study, result=pcr, sample_taken_on=date(2026, 1, 5),
                                  entered_by=signer, entered_at=timezone.now(), source=PcrOutcome.Source.FORM)
    if radiologist is not None:
        verdict = Report.Verdict.CONFIRMED if radiologist == result.predicted_label else Report.Verdict.OVERRIDDEN
        Report.objects.create(study=study, version=1, kind=Report.Kind.INITIAL, ai_result=result,
                              ai_label=result.predicted_label, ai_covid_probability=probability,
                              radiologist_label=radiologist, verdict=verdict, signed_by=signer,
                              signed_at=timezone.now())
    return study
