"""Every write of the decisions app: decisions, rule thresholds, PCR outcomes. Each one audited.

``record_pcr_outcome`` is also the entry point of bulk imports: it runs in a savepoint of the
caller's transaction, so an importer can call it per row inside one ``transaction.atomic()``
block and roll the whole block back for a dry run (``transaction.set_rollback(True)``); the
audit rows go with it.
"""
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, DECISION_ROLES, PCR_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.decisions import exceptions as errors
from triage.decisions.audit_actions import DecisionAction
from triage.decisions.models import MAX_SEVERITY_TOTAL, Decision, DecisionKind, DecisionRule, PcrOutcome
from triage.decisions.selectors import current_decision_for, current_pcr_outcome_for, suggestion_for
from triage.studies.models import Study

RULE_FIELDS = tuple(DecisionRule.DEFAULTS)


def _parse_choice(choices, value: str, *, field: str):
    """Return ``choices(value)``; an unknown value is a 400 naming the field, not a crash."""
    if value not in choices.values:
        raise DomainError(errors.UNKNOWN_CHOICE_MSG.format(value=value, choices=", ".join(choices.values)),
                          extra={"field": field})
    return choices(value)


def _lock_study(study: Study) -> None:
    """Serialise writes to one study's decisions/outcomes (row lock on PostgreSQL)."""
    Study.objects.select_for_update().filter(pk=study.pk).values_list("pk", flat=True).first()


@transaction.atomic
def record_decision(*, study: Study, actor: User, kind: str, reason: str = "",
                    now: datetime | None = None) -> Decision:
    """Record the clinician's decision; it becomes the current one. Re-sending the current
    decision with the same reason changes nothing."""
    require_role(user=actor, hospital=study.hospital, roles=DECISION_ROLES)
    kind = _parse_choice(DecisionKind, kind, field="kind")
    reason = reason.strip()
    _lock_study(study)
    current = current_decision_for(study=study)
    if current is not None and current.kind == kind and current.reason == reason:
        return current
    suggestion = suggestion_for(study=study)
    suggested_kind = suggestion.kind if suggestion else ""
    if suggestion is not None and kind != suggestion.kind and not reason:
        raise DomainError(errors.REASON_REQUIRED_MSG.format(suggested=suggestion.label), extra={"field": "reason"})
    decision = Decision(study=study, kind=kind, reason=reason, author=actor, created_at=now or timezone.now(),
                        suggested_kind=suggested_kind, suggestion_reason=suggestion.reason if suggestion else "",
                        followed_suggestion=kind == suggested_kind)
    decision.full_clean()
    decision.save()
    record_event(actor=actor, action=DecisionAction.RECORDED, hospital=study.hospital, target=decision, extra={
        "study": str(study.uuid), "kind": {"old": current.kind if current else None, "new": kind},
        "suggested_kind": suggested_kind, "followed_suggestion": decision.followed_suggestion,
    })
    return decision


@transaction.atomic
def update_decision_rule(*, hospital: Hospital, actor: User, care_probability_threshold: float,
                         test_probability_threshold: float, care_severity_threshold: int,
                         critical_severity_threshold: int) -> DecisionRule:
    """Set the hospital's suggestion thresholds (hospital or platform admin); audit old/new."""
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    new = {"care_probability_threshold": care_probability_threshold,
           "test_probability_threshold": test_probability_threshold,
           "care_severity_threshold": care_severity_threshold,
           "critical_severity_threshold": critical_severity_threshold}
    if not (0 <= test_probability_threshold <= care_probability_threshold <= 1
            and 0 <= care_severity_threshold <= critical_severity_threshold <= MAX_SEVERITY_TOTAL):
        raise DomainError(errors.THRESHOLDS_ORDER_MSG.format(max_total=MAX_SEVERITY_TOTAL), extra={"values": new})
    rule = DecisionRule.objects.select_for_update().filter(hospital=hospital).first() or DecisionRule(hospital=hospital)
    old = {name: getattr(rule, name) for name in RULE_FIELDS}
    changed = {name: {"old": old[name], "new": value} for name, value in new.items() if old[name] != value}
    if not changed and rule.pk is not None:
        return rule
    for name, value in new.items():
        setattr(rule, name, value)
    rule.updated_by = actor
    rule.full_clean()
    rule.save()
    if changed:
        record_event(actor=actor, action=DecisionAction.RULE_UPDATED, hospital=hospital, target=rule, extra=changed)
    return rule


def _check_pcr_dates(*, sample_taken_on: date, resulted_on: date | None, today: date) -> None:
    if sample_taken_on > today:
        raise errors.InvalidPcrDates(errors.SAMPLE_IN_FUTURE_MSG, field="sample_taken_on")
    if resulted_on is not None and resulted_on < sample_taken_on:
        raise errors.InvalidPcrDates(errors.RESULTED_BEFORE_SAMPLE_MSG, field="resulted_on")
    if resulted_on is not None and resulted_on > today:
        raise errors.InvalidPcrDates(errors.RESULTED_IN_FUTURE_MSG, field="resulted_on")


@transaction.atomic
def record_pcr_outcome(*, study: Study, actor: User, result: str, sample_taken_on: date, source: str,
                       resulted_on: date | None = None, note: str = "", correction_reason: str = "",
                       now: datetime | None = None) -> PcrOutcome:
    """Record the study's RT-PCR outcome (clinician or admin at its hospital).

    - No current outcome: the new one becomes current.
    - Same result and dates as the current one: nothing changes, no audit row (safe to re-import).
    - Anything else: ``PcrOutcomeConflict`` (409) unless ``correction_reason`` is given; then
      the new outcome supersedes the current one and the change is audited with old/new values.
    """
    require_role(user=actor, hospital=study.hospital, roles=PCR_ROLES)
    now = now or timezone.now()
    result = _parse_choice(PcrOutcome.Result, result, field="result")
    source = _parse_choice(PcrOutcome.Source, source, field="source")
    _check_pcr_dates(sample_taken_on=sample_taken_on, resulted_on=resulted_on, today=timezone.localdate(now))
    correction_reason = correction_reason.strip()
    _lock_study(study)
    current = current_pcr_outcome_for(study=study)
    if current is not None:
        if (current.result, current.sample_taken_on, current.resulted_on) == (result, sample_taken_on, resulted_on):
            return current
        if not correction_reason:
            raise errors.PcrOutcomeConflict(current=current)
        current.is_current = False
        current.save(update_fields=["is_current"])
    outcome = PcrOutcome(study=study, result=result, sample_taken_on=sample_taken_on, resulted_on=resulted_on,
                         entered_by=actor, entered_at=now, source=source, note=note.strip(),
                         supersedes=current, correction_reason=correction_reason if current else "")
    outcome.full_clean(validate_constraints=False)
    outcome.save()
    extra = {"study": str(study.uuid), "source": source,
             "result": {"old": current.result if current else None, "new": result},
             "sample_taken_on": {"old": current.sample_taken_on.isoformat() if current else None,
                                 "new": sample_taken_on.isoformat()}}
    if current is not None:
        extra["correction_reason"] = correction_reason
    record_event(actor=actor, action=DecisionAction.PCR_CORRECTED if current else DecisionAction.PCR_RECORDED,
                 hospital=study.hospital, target=outcome, extra=extra)
    return outcome
