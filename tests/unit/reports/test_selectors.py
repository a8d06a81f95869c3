from datetime import date

import pytest

from tests.unit.reports.factories import make_result, make_study
from triage.audit.models import AuditEvent
from triage.reports.presentation import trend_rows
from triage.reports.selectors import FollowUpPoint, annotate_review_state, follow_up_series, review_state_for
from triage.reports.services import add_addendum, sign_report
from triage.studies.models import Study

pytestmark = pytest.mark.django_db


def test_annotate_review_state__marks_reviewed_and_unreviewed(ready_study, hospital_a, radiologist):
    unreviewed = make_study(hospital=hospital_a)
    first = sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    add_addendum(study=ready_study, actor=radiologist, comment="changed", label="normal", expected_version=1)
    rows = {s.pk: s for s in annotate_review_state(Study.objects.all())}
    assert (rows[ready_study.pk].report_version, rows[ready_study.pk].report_label) == (2, "normal")
    assert rows[ready_study.pk].reviewed_at == first.signed_at
    assert (rows[unreviewed.pk].report_version, rows[unreviewed.pk].reviewed_at) == (None, None)


def test_review_state_for__version_and_can_sign(ready_study, radiologist, clinician):
    assert (review_state_for(study=ready_study, user=radiologist).can_sign,
            review_state_for(study=ready_study, user=clinician).can_sign) == (True, False)
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    state = review_state_for(study=ready_study)
    assert (state.version, state.is_reviewed, state.labels) == (1, True, ["covid", "normal", "pneumonia"])


def test_follow_up_series__links_the_patients_studies_at_one_hospital_oldest_first(hospital_a, hospital_b,
                                                                                   radiologist):
    later = make_study(hospital=hospital_a, patient_id="P-1", study_date=date(2026, 3, 2))
    make_result(study=later, covid_probability=0.4, severity_total=2)
    earlier = make_study(hospital=hospital_a, patient_id="P-1", study_date=date(2026, 2, 1))
    make_result(study=earlier, covid_probability=0.9, severity_total=9)
    make_study(hospital=hospital_b, patient_id="P-1")  # same ID at another hospital: another patient
    make_study(hospital=hospital_a, patient_id="P-2")
    series = follow_up_series(user=radiologist, study=later)
    assert [(p.study, p.covid_probability, p.severity_total, p.is_this_study) for p in series] == [
        (earlier, 0.9, 9, False), (later, 0.4, 2, True)]
    listed = AuditEvent.objects.get(action="study.listed", extra__via="follow_up")
    assert listed.extra["studies"] == [str(earlier.uuid)]
    lonely = make_study(hospital=hospital_a, patient_id="P-3")
    assert follow_up_series(user=radiologist, study=lonely) == []


def test_trend_rows__scales_to_the_maximum_and_breaks_the_line_at_missing_values():
    points = [FollowUpPoint(study=None, when=date(2026, 1, d), covid_probability=p, lesion_fraction_both=None,
                            severity_total=None, is_this_study=d == 3) for d, p in ((1, 1.0), (2, None), (3, 0.5))]
    (row,) = trend_rows(points, measures=[("p", "covid_probability", 1.0, str)], width=100, height=10)
    assert row.path == "M 0.0,0.0 M 100.0,5.0"  # the middle study has no value: two one-point segments
    assert [(p["x"], p["y"], p["current"]) for p in row.points] == [(0.0, 0.0, False), (100.0, 5.0, True)]
