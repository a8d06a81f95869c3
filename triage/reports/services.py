"""Every write to reports: sign the initial report, add an addendum. Each one audited.

Optimistic locking: the caller passes ``expected_version``, the latest report version it
showed the radiologist (0 when there was none). The new version is ``expected_version + 1``
and the (study, version) unique constraint decides a race: the loser's insert fails and it
gets a ``ReportConflict`` (409) naming the time the winner signed.
"""
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from triage.accounts.models import User
from triage.accounts.permissions import SIGN_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.core.signals import study_changed
from triage.reports import exceptions as errors
from triage.reports.audit_actions import ReportAction
from triage.reports.models import Report
from triage.reports.selectors import latest_report_for
from triage.results.selectors import current_result_for
from triage.results.models import Result
from triage.studies.models import Study
from triage.studies.selectors import stack_gaps_for


def _clock_time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _conflict(*, study: Study, expected_version: int) -> errors.ReportConflict:
    latest = latest_report_for(study=study)
    if latest is None:  # the caller claims a version that does not exist (or the winner rolled back)
        return errors.ReportConflict(errors.STALE_VERSION_MSG, current_version=0, signed_at=None)
    if expected_version == 0:
        message = errors.SIGNED_BY_OTHER_MSG.format(time=_clock_time(latest.signed_at))
    else:
        message = errors.CHANGED_SINCE_READ_MSG.format(time=_clock_time(latest.signed_at), version=latest.version)
    return errors.ReportConflict(message, current_version=latest.version, signed_at=latest.signed_at)


def _reviewable_result(*, study: Study) -> Result:
    if study.status != Study.Status.READY:
        raise errors.StudyNotReviewable(errors.STUDY_NOT_READY_MSG.format(status=study.get_status_display().lower()))
    result = current_result_for(study=study)
    if result is None:
        raise errors.StudyNotReviewable(errors.NO_CURRENT_RESULT_MSG)
    return result


def _check_label(*, label: str, result: Result) -> None:
    labels = list(result.model_version.class_names)
    if label not in labels:
        raise errors.InvalidLabel(label=label, labels=labels)


def _incomplete_stack(*, study: Study, confirmed_incomplete: bool) -> dict | None:
    """Return ``{"missing_slices", "gaps"}`` of a holed stack (None when whole); refuse it unless confirmed.

    The AI numbers of a holed series cover only the slices received, so the reader must say they saw that.
    """
    gaps = [{"after_slice": gap.after_slice, "missing": gap.missing} for gap in stack_gaps_for(study=study)]
    if not gaps:
        return None
    incomplete = {"missing_slices": sum(gap["missing"] for gap in gaps), "gaps": gaps}
    if not confirmed_incomplete:
        raise errors.IncompleteNotConfirmed(incomplete=incomplete)
    return incomplete


def _insert_version(report: Report, *, study: Study, expected_version: int) -> Report:
    """Insert ``report`` in a savepoint; a unique-constraint loss becomes a ``ReportConflict``."""
    report.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            report.save(force_insert=True)
    except IntegrityError:
        raise _conflict(study=study, expected_version=expected_version) from None
    return report


@transaction.atomic
def sign_report(*, study: Study, actor: User, label: str, comment: str = "", expected_version: int,
                confirmed_incomplete: bool = False, now: datetime | None = None) -> Report:
    """Sign the initial report: confirm (``label`` = the AI's) or override the AI label.

    A study with missing slices is signed only with ``confirmed_incomplete=True``; the audit row keeps the holes.
    """
    require_role(user=actor, hospital=study.hospital, roles=SIGN_ROLES)
    result = _reviewable_result(study=study)
    _check_label(label=label, result=result)
    latest = latest_report_for(study=study)
    if latest is not None:
        if latest.version != expected_version:
            raise _conflict(study=study, expected_version=expected_version)
        raise errors.ReportConflict(errors.ALREADY_SIGNED_MSG, current_version=latest.version,
                                    signed_at=latest.signed_at)
    if expected_version != 0:
        raise _conflict(study=study, expected_version=expected_version)
    incomplete = _incomplete_stack(study=study, confirmed_incomplete=confirmed_incomplete)
    verdict = Report.Verdict.CONFIRMED if label == result.predicted_label else Report.Verdict.OVERRIDDEN
    report = _insert_version(Report(
        study=study, version=1, kind=Report.Kind.INITIAL, ai_result=result, ai_label=result.predicted_label,
        ai_covid_probability=result.covid_probability, radiologist_label=label, verdict=verdict,
        comment=comment.strip(), signed_by=actor, signed_at=now or timezone.now(),
    ), study=study, expected_version=expected_version)
    record_event(actor=actor, action=ReportAction.SIGNED, hospital=study.hospital, target=report, extra={
        "study": str(study.uuid), "version": 1, "verdict": verdict,
        "label": {"old": result.predicted_label, "new": label}, "model_version": str(result.model_version),
        **({"incomplete": incomplete} if incomplete else {}),
    })
    study_changed.send(sender="reports", study=study)  # the worklist shows the study as reviewed
    return report


@transaction.atomic
def add_addendum(*, study: Study, actor: User, comment: str, expected_version: int, label: str | None = None,
                 now: datetime | None = None) -> Report:
    """Add a signed addendum on top of the latest report; ``label=None`` keeps its label."""
    require_role(user=actor, hospital=study.hospital, roles=SIGN_ROLES)
    if not comment.strip():
        raise DomainError(errors.ADDENDUM_NEEDS_COMMENT_MSG, extra={"field": "comment"})
    latest = latest_report_for(study=study)
    if latest is None:
        raise errors.StudyNotReviewable(errors.NOT_SIGNED_YET_MSG)
    if latest.version != expected_version:
        raise _conflict(study=study, expected_version=expected_version)
    result = latest.ai_result
    new_label = latest.radiologist_label if label is None else label
    _check_label(label=new_label, result=result)
    verdict = Report.Verdict.CONFIRMED if new_label == latest.ai_label else Report.Verdict.OVERRIDDEN
    report = _insert_version(Report(
        study=study, version=latest.version + 1, kind=Report.Kind.ADDENDUM, ai_result=result,
        ai_label=latest.ai_label, ai_covid_probability=latest.ai_covid_probability, radiologist_label=new_label,
        verdict=verdict, comment=comment.strip(), signed_by=actor, signed_at=now or timezone.now(), supersedes=latest,
    ), study=study, expected_version=expected_version)
    record_event(actor=actor, action=ReportAction.ADDENDUM_ADDED, hospital=study.hospital, target=report, extra={
        "study": str(study.uuid), "version": report.version, "supersedes": str(latest.uuid),
        "label": {"old": latest.radiologist_label, "new": new_label},
    })
    study_changed.send(sender="reports", study=study)
    return report
