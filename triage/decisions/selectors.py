"""Reads of decisions, rules and PCR outcomes.

Study-level reads take a ``study`` that already came through the studies app's
tenancy-scoped selectors (``access_study`` / ``study_get``); hospital-level reads check
membership themselves.
"""
from uuid import UUID

from django.db.models import QuerySet

from triage.accounts.models import Hospital, User
from triage.accounts.selectors import hospital_get
from triage.decisions.models import Decision, DecisionRule, PcrOutcome
from triage.decisions.rules import Suggestion, suggest_decision
from triage.reports.selectors import latest_report_for
from triage.results.selectors import current_result_for
from triage.results.models import Quantification
from triage.studies.models import Study


def decision_list(*, study: Study) -> QuerySet[Decision]:
    """Return the study's decisions, newest (the current one) first."""
    return Decision.objects.filter(study=study).select_related("author").order_by("-created_at", "-id")


def current_decision_for(*, study: Study) -> Decision | None:
    return decision_list(study=study).first()


def pcr_outcome_list(*, study: Study) -> QuerySet[PcrOutcome]:
    """Return every PCR entry of the study (corrections included), newest first."""
    return PcrOutcome.objects.filter(study=study).select_related("entered_by").order_by("-entered_at", "-id")


def current_pcr_outcome_for(*, study: Study) -> PcrOutcome | None:
    return PcrOutcome.objects.filter(study=study, is_current=True).first()


def decision_rule_for(*, hospital: Hospital) -> DecisionRule:
    """Return the hospital's rule; an unsaved rule with the defaults when it has none."""
    return DecisionRule.objects.filter(hospital=hospital).first() or DecisionRule(hospital=hospital)


def decision_rule_get(*, user: User, hospital_uuid: UUID) -> DecisionRule:
    """Return the rule of a hospital the user can see (any member may read it)."""
    return decision_rule_for(hospital=hospital_get(user=user, hospital_uuid=hospital_uuid))


def suggestion_for(*, study: Study) -> Suggestion | None:
    """Return the suggested decision from the signed read (when there is one) or the current AI result.

    A result marked "AI not applicable" has no meaningful probability, so it suggests nothing.
    """
    result = current_result_for(study=study)
    if result is None or not result.applicable:
        return None
    quantification = Quantification.objects.filter(result=result).only("severity_total").first()
    report = latest_report_for(study=study)
    positive_class = str((result.model_version.card or {}).get("positive_class", "")).lower()
    signed_label = report.radiologist_label if report is not None else ""
    return suggest_decision(rule=decision_rule_for(hospital=study.hospital), covid_probability=result.covid_probability,
                            severity_total=quantification.severity_total if quantification else None,
                            signed_label=signed_label,
                            signed_is_covid=bool(positive_class) and signed_label.lower() == positive_class)
