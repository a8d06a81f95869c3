from datetime import datetime, timezone as dt_timezone

import pytest
from django.core.exceptions import PermissionDenied

from tests.unit.reports.factories import give_series, make_study
from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.core.immutable import ImmutableRow
from triage.reports import exceptions as errors
from triage.reports.models import Report
from triage.reports.services import add_addendum, sign_report
from triage.results.models import Result
from triage.studies.models import Study
from triage.worklist.models import WorklistEntry

pytestmark = pytest.mark.django_db
SIGNED_AT = datetime(2026, 11, 23, 9, 41, tzinfo=dt_timezone.utc)


def test_sign_report__confirm_writes_version_1_and_audits_old_new_label(ready_study, radiologist):
    report = sign_report(study=ready_study, actor=radiologist, label="covid", comment=" typical GGO ",
                         expected_version=0)
    assert (report.version, report.kind, report.verdict, report.comment) == (1, "initial", "confirmed", "typical GGO")
    event = AuditEvent.objects.get(action="report.signed")
    assert event.extra["label"] == {"old": "covid", "new": "covid"}
    assert (event.actor, event.hospital, event.object_id) == (radiologist, ready_study.hospital, str(report.uuid))


def test_sign_report__incomplete_series_is_refused_until_confirmed_and_the_audit_row_says_so(ready_study,
                                                                                              radiologist):
    give_series(ready_study, z_positions_mm=[float(z) for z in range(12) if z not in (5, 6, 7)])
    with pytest.raises(errors.IncompleteNotConfirmed) as refused:
        sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    assert refused.value.status_code == 400
    assert "about 3 slices missing after slice 5" in refused.value.message
    assert refused.value.extra == {"field": "confirmed_incomplete", "missing_slices": 3,
                                   "gaps": [{"after_slice": 5, "missing": 3}]}
    assert not Report.objects.filter(study=ready_study).exists()
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0, confirmed_incomplete=True)
    assert AuditEvent.objects.get(action="report.signed").extra["incomplete"] == {
        "missing_slices": 3, "gaps": [{"after_slice": 5, "missing": 3}]}


def test_sign_report__whole_series_needs_no_confirmation_and_audits_no_hole(ready_study, radiologist):
    give_series(ready_study, z_positions_mm=[float(z) for z in range(12)])
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    assert "incomplete" not in AuditEvent.objects.get(action="report.signed").extra


def test_sign_report__different_label_is_an_override(ready_study, radiologist):
    report = sign_report(study=ready_study, actor=radiologist, label="pneumonia", expected_version=0)
    assert (report.verdict, report.ai_label, report.radiologist_label) == ("overridden", "covid", "pneumonia")
    assert AuditEvent.objects.get(action="report.signed").extra["label"] == {"old": "covid", "new": "pneumonia"}


def test_sign_report__stale_expected_version_is_409_naming_the_time(ready_study, radiologist, other_radiologist):
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0, now=SIGNED_AT)
    with pytest.raises(errors.ReportConflict) as caught:
        sign_report(study=ready_study, actor=other_radiologist, label="normal", expected_version=0)
    assert caught.value.status_code == 409
    assert caught.value.message == errors.SIGNED_BY_OTHER_MSG.format(time="09:41")
    assert caught.value.extra["current_version"] == 1
    assert Report.objects.count() == 1 and AuditEvent.objects.filter(action="report.signed").count() == 1


def test_sign_report__already_signed_with_current_version_asks_for_addendum(ready_study, radiologist):
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    with pytest.raises(errors.ReportConflict, match="add an addendum"):
        sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=1)


def test_sign_report__clinician_is_refused(ready_study, clinician):
    with pytest.raises(PermissionDenied):
        sign_report(study=ready_study, actor=clinician, label="covid", expected_version=0)
    assert not Report.objects.exists() and not AuditEvent.objects.filter(action="report.signed").exists()


def test_sign_report__foreign_hospital_is_not_found(foreign_study, radiologist):
    with pytest.raises(NotFound):
        sign_report(study=foreign_study, actor=radiologist, label="covid", expected_version=0)


def test_sign_report__study_not_ready_is_refused(hospital_a, radiologist):
    study = make_study(hospital=hospital_a, status=Study.Status.PROCESSING)
    with pytest.raises(errors.StudyNotReviewable, match="processing"):
        sign_report(study=study, actor=radiologist, label="covid", expected_version=0)


def test_sign_report__without_current_result_is_refused(ready_study, radiologist):
    Result.objects.filter(study=ready_study).update(is_current=False)
    with pytest.raises(errors.StudyNotReviewable, match="no current AI result"):
        sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)


def test_sign_report__unknown_label_is_refused(ready_study, radiologist):
    with pytest.raises(errors.InvalidLabel) as caught:
        sign_report(study=ready_study, actor=radiologist, label="flu", expected_version=0)
    assert caught.value.extra["labels"] == ["covid", "normal", "pneumonia"]


def test_report__signed_report_refuses_save_update_and_delete(ready_study, radiologist):
    report = sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    report.comment = "edited"
    with pytest.raises(ImmutableRow):
        report.save()
    with pytest.raises(ImmutableRow):
        Report.objects.filter(pk=report.pk).update(comment="edited")
    with pytest.raises(ImmutableRow):
        report.delete()
    assert Report.objects.get(pk=report.pk).comment == ""


def test_add_addendum__adds_next_version_superseding_latest_with_audit(ready_study, radiologist, other_radiologist):
    first = sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    second = add_addendum(study=ready_study, actor=other_radiologist, comment="PCR negative; revised",
                          label="pneumonia", expected_version=1)
    third = add_addendum(study=ready_study, actor=radiologist, comment="Follow-up advised", expected_version=2)
    assert [(r.version, r.kind) for r in Report.objects.order_by("version")] == [
        (1, "initial"), (2, "addendum"), (3, "addendum")]
    assert (second.supersedes, third.supersedes) == (first, second)
    assert (second.verdict, third.radiologist_label) == ("overridden", "pneumonia")
    labels = [e.extra["label"] for e in AuditEvent.objects.filter(action="report.addendum_added").order_by("id")]
    assert labels == [{"old": "covid", "new": "pneumonia"}, {"old": "pneumonia", "new": "pneumonia"}]


def test_add_addendum__stale_version_is_409(ready_study, radiologist):
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    add_addendum(study=ready_study, actor=radiologist, comment="one", expected_version=1)
    with pytest.raises(errors.ReportConflict, match="now version 2"):
        add_addendum(study=ready_study, actor=radiologist, comment="two", expected_version=1)


def test_add_addendum__before_signing_is_refused(ready_study, radiologist):
    with pytest.raises(errors.StudyNotReviewable, match="sign the report first"):
        add_addendum(study=ready_study, actor=radiologist, comment="x", expected_version=0)


def test_add_addendum__blank_comment_is_refused(ready_study, radiologist):
    sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0)
    with pytest.raises(Exception, match="needs a comment"):
        add_addendum(study=ready_study, actor=radiologist, comment="  ", expected_version=1)
    assert Report.objects.count() == 1


def test_sign_report__marks_the_worklist_row_reviewed(ready_study, radiologist):
    report = sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=0, now=SIGNED_AT)
    entry = WorklistEntry.objects.get(study=ready_study)
    assert (entry.reviewed, entry.reviewed_at) == (True, report.signed_at)


def test_sign_report__expected_version_that_never_existed_is_409(ready_study, radiologist):
    with pytest.raises(errors.ReportConflict) as caught:
        sign_report(study=ready_study, actor=radiologist, label="covid", expected_version=3)
    assert caught.value.message == errors.STALE_VERSION_MSG and not Report.objects.exists()
