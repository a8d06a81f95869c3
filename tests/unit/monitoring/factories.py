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


SHIPPED_3D = "covidnet3d-shallow/2026-12-01"
# (shown model's probability, candidate's, PCR): the shown model right on 3 of 4, the candidate on all 4;
# the PCR-inconclusive study is left out of every comparison.
SHADOW_CASES = [(0.9, 0.8, "positive"), (0.3, 0.7, "positive"), (0.2, 0.1, "negative"), (0.1, 0.2, "negative"),
                (0.9, 0.9, "inconclusive")]


def hidden_result(study, model_version, probability: float) -> Result:
    """Store a candidate model's shadow result (never current) for ``study``."""
    return Result.objects.create(study=study, model_version=model_version, is_current=False,
                                 class_probabilities={"covid": probability}, covid_probability=probability,
                                 covid_probability_uncalibrated=probability, predicted_label="covid", slices_scored=0)


def shadow_candidate(*, actor, hospital, signer, cases=SHADOW_CASES, candidate_hospital="same"):
    """Mark the shipped 3D model as candidate (for ``hospital``, or all when ``candidate_hospital`` is None) and
    give ``hospital`` studies with both results and a PCR outcome (``cases``)."""
    from triage.results.services import mark_candidate

    candidate = mark_candidate(actor=actor, reference=SHIPPED_3D,
                               hospital=hospital if candidate_hospital == "same" else candidate_hospital)
    for shown_p, hidden_p, pcr in cases:
        study = make_case(hospital=hospital, probability=shown_p, pcr=pcr, signer=signer)
        hidden_result(study, candidate.model_version, hidden_p)
    return candidate
