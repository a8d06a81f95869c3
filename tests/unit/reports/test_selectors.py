import pytest

from tests.unit.reports.factories import make_study
from triage.reports.selectors import annotate_review_state, review_state_for
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
