import pytest

from triage.accounts.models import Role
from triage.decisions.models import DecisionKind
from triage.decisions.selectors import suggestion_for
from triage.reports.services import sign_report

pytestmark = pytest.mark.django_db


def test_suggestion_for__follows_the_signed_read_and_says_so(ready_study, make_user):
    assert suggestion_for(study=ready_study).kind == DecisionKind.CARE_MEDICATION  # AI: 0.91
    reader = make_user(hospital=ready_study.hospital, role=Role.RADIOLOGIST)
    sign_report(study=ready_study, actor=reader, label="normal", expected_version=0)
    suggestion = suggestion_for(study=ready_study)
    assert suggestion.kind == DecisionKind.DISCHARGE
    assert suggestion.reason == "Suggested because the radiologist signed normal and severity score 6 < 8."
