from datetime import date, datetime, timezone as dt_timezone

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from tests.unit.reports.factories import make_study
from triage.audit.models import AuditEvent
from triage.core.exceptions import DomainError, NotFound
from triage.core.immutable import ImmutableRow
from triage.decisions.exceptions import PcrOutcomeConflict
from triage.decisions.models import Decision, DecisionRule, PcrOutcome
from triage.decisions.services import record_decision, record_pcr_outcome, update_decision_rule

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=dt_timezone.utc)
RULE_VALUES = {"care_probability_threshold": 0.9, "test_probability_threshold": 0.2, "care_severity_threshold": 10,
               "critical_severity_threshold": 20}


def pcr(study, actor, **fields):
    fields = {"result": "positive", "sample_taken_on": date(2026, 11, 20), "source": "form", "now": NOW, **fields}
    return record_pcr_outcome(study=study, actor=actor, **fields)


# --- decisions -------------------------------------------------------------------------

def test_record_decision__stores_suggestion_and_audits(ready_study, clinician):
    decision = record_decision(study=ready_study, actor=clinician, kind="care_medication")
    assert (decision.suggested_kind, decision.followed_suggestion) == ("care_medication", True)
    assert decision.suggestion_reason == "Suggested because probability 0.91 ≥ 0.80."
    event = AuditEvent.objects.get(action="decision.recorded")
    assert event.extra["kind"] == {"old": None, "new": "care_medication"} and event.actor == clinician


def test_record_decision__newest_is_current_and_history_is_kept(ready_study, clinician):
    record_decision(study=ready_study, actor=clinician, kind="care_medication", now=NOW)
    later = record_decision(study=ready_study, actor=clinician, kind="care_critical", reason="SpO2 88 %",
                            now=NOW.replace(hour=13))
    assert list(Decision.objects.filter(study=ready_study)) == [later, Decision.objects.earliest("created_at")]
    assert AuditEvent.objects.filter(action="decision.recorded").first().extra["kind"] == {
        "old": "care_medication", "new": "care_critical"}
    assert later.followed_suggestion is False


def test_record_decision__same_decision_again_is_a_silent_no_op(ready_study, clinician):
    first = record_decision(study=ready_study, actor=clinician, kind="care_medication", reason="ok")
    assert record_decision(study=ready_study, actor=clinician, kind="care_medication", reason="ok ") == first
    assert Decision.objects.count() == 1 and AuditEvent.objects.filter(action="decision.recorded").count() == 1


def test_record_decision__differing_from_suggestion_needs_a_reason(ready_study, clinician):
    with pytest.raises(DomainError, match="Give a reason"):
        record_decision(study=ready_study, actor=clinician, kind="discharge")
    assert not Decision.objects.exists()


def test_record_decision__without_ai_result_has_no_suggestion(hospital_a, clinician):
    decision = record_decision(study=make_study(hospital=hospital_a), actor=clinician, kind="quarantine")
    assert (decision.suggested_kind, decision.followed_suggestion) == ("", False)


def test_record_decision__radiologist_is_refused_and_foreign_is_not_found(ready_study, foreign_study, radiologist,
                                                                          clinician):
    with pytest.raises(PermissionDenied):
        record_decision(study=ready_study, actor=radiologist, kind="care_medication")
    with pytest.raises(NotFound):
        record_decision(study=foreign_study, actor=clinician, kind="care_medication")


def test_record_decision__unknown_kind_is_a_domain_error(ready_study, clinician):
    with pytest.raises(DomainError, match="Unknown value 'admit'"):
        record_decision(study=ready_study, actor=clinician, kind="admit")


def test_decision__is_immutable(ready_study, clinician):
    decision = record_decision(study=ready_study, actor=clinician, kind="care_medication")
    with pytest.raises(ImmutableRow):
        decision.save()
    with pytest.raises(ImmutableRow):
        Decision.objects.all().delete()


# --- rules -----------------------------------------------------------------------------

def test_update_decision_rule__creates_then_audits_only_changed_values(hospital_a, admin_a):
    rule = update_decision_rule(hospital=hospital_a, actor=admin_a, **RULE_VALUES)
    assert DecisionRule.objects.get(hospital=hospital_a) == rule and rule.updated_by == admin_a
    first = AuditEvent.objects.get(action="decision_rule.updated")
    assert first.extra["care_probability_threshold"] == {"old": 0.8, "new": 0.9}
    update_decision_rule(hospital=hospital_a, actor=admin_a, **{**RULE_VALUES, "care_severity_threshold": 12})
    latest = AuditEvent.objects.filter(action="decision_rule.updated").first()
    assert latest.extra == {"care_severity_threshold": {"old": 10, "new": 12}}


def test_update_decision_rule__same_values_is_a_silent_no_op(hospital_a, admin_a):
    update_decision_rule(hospital=hospital_a, actor=admin_a, **RULE_VALUES)
    update_decision_rule(hospital=hospital_a, actor=admin_a, **RULE_VALUES)
    assert AuditEvent.objects.filter(action="decision_rule.updated").count() == 1


def test_update_decision_rule__changes_the_suggestion(hospital_a, admin_a, ready_study, clinician):
    update_decision_rule(hospital=hospital_a, actor=admin_a, **{**RULE_VALUES, "care_probability_threshold": 0.95})
    assert record_decision(study=ready_study, actor=clinician, kind="nucleic_acid_test").followed_suggestion


@pytest.mark.parametrize("bad", [{"test_probability_threshold": 0.95}, {"care_probability_threshold": 1.2},
                                 {"care_severity_threshold": 25}, {"critical_severity_threshold": 31}])
def test_update_decision_rule__unordered_thresholds_are_refused(hospital_a, admin_a, bad):
    with pytest.raises(DomainError, match="Thresholds must satisfy"):
        update_decision_rule(hospital=hospital_a, actor=admin_a, **{**RULE_VALUES, **bad})


def test_update_decision_rule__clinician_is_refused(hospital_a, clinician):
    with pytest.raises(PermissionDenied):
        update_decision_rule(hospital=hospital_a, actor=clinician, **RULE_VALUES)


# --- PCR outcomes ----------------------------------------------------------------------

def test_record_pcr_outcome__first_entry_is_current_and_audited(ready_study, clinician):
    outcome = pcr(ready_study, clinician, resulted_on=date(2026, 11, 21), note="lab 3")
    assert (outcome.is_current, outcome.entered_by, outcome.source) == (True, clinician, "form")
    event = AuditEvent.objects.get(action="pcr_outcome.recorded")
    assert event.extra["result"] == {"old": None, "new": "positive"}


def test_record_pcr_outcome__same_entry_again_is_a_silent_no_op(ready_study, clinician, admin_a):
    first = pcr(ready_study, clinician)
    assert pcr(ready_study, admin_a, source="csv", note="import") == first
    assert PcrOutcome.objects.count() == 1 and AuditEvent.objects.filter(action__startswith="pcr_outcome").count() == 1


def test_record_pcr_outcome__different_result_without_reason_is_409(ready_study, clinician):
    pcr(ready_study, clinician)
    with pytest.raises(PcrOutcomeConflict) as caught:
        pcr(ready_study, clinician, result="negative")
    assert caught.value.status_code == 409 and caught.value.extra["current"]["result"] == "positive"
    assert PcrOutcome.objects.get().result == "positive"


def test_record_pcr_outcome__correction_supersedes_and_audits_old_new(ready_study, clinician):
    first = pcr(ready_study, clinician)
    corrected = pcr(ready_study, clinician, result="negative", correction_reason="sample mix-up")
    first.refresh_from_db()
    assert (first.is_current, corrected.is_current, corrected.supersedes) == (False, True, first)
    event = AuditEvent.objects.get(action="pcr_outcome.corrected")
    assert event.extra["result"] == {"old": "positive", "new": "negative"}
    assert event.extra["correction_reason"] == "sample mix-up"


@pytest.mark.parametrize("fields, message", [
    ({"sample_taken_on": date(2026, 11, 24)}, "sample date cannot be in the future"),
    ({"resulted_on": date(2026, 11, 19)}, "cannot be before the sample date"),
    ({"resulted_on": date(2026, 11, 30)}, "result date cannot be in the future"),
    ({"result": "maybe"}, "Unknown value 'maybe'"),
    ({"source": "fax"}, "Unknown value 'fax'"),
])
def test_record_pcr_outcome__invalid_input_is_refused(ready_study, clinician, fields, message):
    with pytest.raises(DomainError, match=message):
        pcr(ready_study, clinician, **fields)


def test_record_pcr_outcome__radiologist_is_refused_and_foreign_is_not_found(ready_study, foreign_study, radiologist,
                                                                             clinician):
    with pytest.raises(PermissionDenied):
        pcr(ready_study, radiologist)
    with pytest.raises(NotFound):
        pcr(foreign_study, clinician)


def test_record_pcr_outcome__bulk_dry_run_rolls_back_rows_and_audit(hospital_a, admin_a):
    studies = [make_study(hospital=hospital_a) for _ in range(3)]
    with transaction.atomic():
        for study in studies:
            pcr(study, admin_a, source="csv")
        assert PcrOutcome.objects.count() == 3
        transaction.set_rollback(True)
    assert not PcrOutcome.objects.exists() and not AuditEvent.objects.filter(action__startswith="pcr_").exists()
