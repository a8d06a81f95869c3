"""Monitoring selectors: counts from seeded studies, thresholds, tenancy."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.monitoring import selectors
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.services import update_operating_threshold
from triage.studies.models import Study
from tests.unit.monitoring.factories import make_case

pytestmark = pytest.mark.django_db
N_BOOT = 200


def seed_hospital_a(hospital, user):
    """TP 2, FN 1, FP 1, TN 2 at threshold 0.5; one inconclusive; radiologist on four of them."""
    for probability, pcr, label in [(0.9, "positive", "covid"), (0.8, "positive", "normal"), (0.3, "positive", None),
                                    (0.7, "negative", "covid"), (0.2, "negative", "normal"), (0.1, "negative", None),
                                    (0.95, "inconclusive", None)]:
        make_case(hospital=hospital, probability=probability, pcr=pcr, radiologist=label, signer=user)


def test_evaluation_for__counts_match_seeded_outcomes(hospital_a, admin_a):
    seed_hospital_a(hospital_a, admin_a)
    evaluation = selectors.evaluation_for(user=admin_a, hospitals=[hospital_a], n_boot=N_BOOT)
    m, r = evaluation.model, evaluation.radiologist
    assert (m.tp, m.fn, m.fp, m.tn) == (2, 1, 1, 2)
    assert (r.tp, r.fn, r.fp, r.tn) == (1, 1, 1, 1)
    assert evaluation.n_outcomes == 6 and evaluation.n_inconclusive == 1
    # signed: model [1, 1, 1, 0] vs radiologist [1, 0, 1, 0]: agreement 3/4, chance 0.75*0.5 + 0.25*0.5 -> kappa 0.5
    assert evaluation.n_kappa == 4 and evaluation.kappa_model_radiologist == pytest.approx(0.5)


def test_evaluation_for__uses_the_hospitals_operating_threshold(hospital_a, admin_a):
    seed_hospital_a(hospital_a, admin_a)
    update_operating_threshold(hospital=hospital_a, actor=admin_a, operating_threshold=0.75)
    m = selectors.evaluation_for(user=admin_a, hospitals=[hospital_a], n_boot=N_BOOT).model
    assert (m.tp, m.fn, m.fp, m.tn) == (2, 1, 0, 3)


def test_evaluation_for__hides_other_hospitals(hospital_a, hospital_b, admin_a, admin_b):
    seed_hospital_a(hospital_a, admin_a)
    make_case(hospital=hospital_b, probability=0.9, pcr="negative", signer=admin_b)
    evaluation = selectors.evaluation_for(user=admin_a, hospitals=[hospital_a, hospital_b], n_boot=N_BOOT)
    assert evaluation.n_outcomes == 6


def test_dashboard_days_and_weeks_are_local(settings, hospital_a, admin_a):
    """Sunday 23:30 UTC is Monday in Auckland: the day and ISO week the database groups by are local ones."""
    settings.TIME_ZONE = "Pacific/Auckland"
    received = datetime(2026, 11, 29, 23, 30, tzinfo=dt_timezone.utc)  # a Sunday in UTC
    make_case(hospital=hospital_a, probability=0.8, received_at=received)
    now = received + timedelta(hours=2)
    [week] = selectors.evaluation_for(user=admin_a, hospitals=[hospital_a], n_boot=N_BOOT, now=now).drift
    assert week.iso_week == "2026-W49"  # Monday 30 November in Auckland; UTC would say W48
    days = dict(selectors.operations_for(user=admin_a, hospitals=[hospital_a], now=now).studies_per_day)
    assert days["2026-11-30"] == 1 and sum(days.values()) == 1


def test_evaluation_for__drift_groups_by_iso_week(hospital_a, admin_a):
    now = timezone.now()
    make_case(hospital=hospital_a, probability=0.2, received_at=now - timedelta(days=7))
    make_case(hospital=hospital_a, probability=0.8, received_at=now)
    make_case(hospital=hospital_a, probability=0.8, received_at=now - timedelta(weeks=40))  # outside the window
    drift = selectors.evaluation_for(user=admin_a, hospitals=[hospital_a], n_boot=N_BOOT, now=now).drift
    assert [w.n for w in drift] == [1, 1]
    assert [w.positive_rate for w in drift] == [0.0, 1.0]


def test_dashboard_scope_get__foreign_hospital_is_not_found(hospital_b, admin_a):
    with pytest.raises(NotFound):
        selectors.dashboard_scope_get(user=admin_a, hospital_uuid=hospital_b.uuid)


def test_dashboard_scope_get__member_without_admin_role_is_denied(hospital_a, clinician):
    with pytest.raises(PermissionDenied):
        selectors.dashboard_scope_get(user=clinician, hospital_uuid=hospital_a.uuid)


def test_dashboard_scope_get__all_hospitals_needs_platform_admin(hospital_a, hospital_b, admin_a, platform_admin):
    with pytest.raises(PermissionDenied):
        selectors.dashboard_scope_get(user=admin_a, hospital_uuid=None)
    assert {h.code for h in selectors.dashboard_scope_get(user=platform_admin, hospital_uuid=None).hospitals} == {"a", "b"}


def test_admin_hospitals_for__lists_only_administered_hospitals(hospital_a, hospital_b, admin_a, clinician,
                                                                 platform_admin):
    assert list(selectors.admin_hospitals_for(user=admin_a)) == [hospital_a]
    assert list(selectors.admin_hospitals_for(user=clinician)) == []
    assert set(selectors.admin_hospitals_for(user=platform_admin)) == {hospital_a, hospital_b}


def test_operations_for__queue_latency_and_failures(hospital_a, admin_a):
    now = timezone.now()
    for seconds in (60, 120, 180, 240):
        make_case(hospital=hospital_a, received_at=now - timedelta(hours=2), ready_after_s=seconds)
    make_case(hospital=hospital_a, probability=None, status=Study.Status.QUEUED)
    make_case(hospital=hospital_a, probability=None, status=Study.Status.FAILED, failure_reason="No usable series")
    make_case(hospital=hospital_a, probability=None, status=Study.Status.FAILED, failure_reason="No usable series")
    ops = selectors.operations_for(user=admin_a, hospitals=[hospital_a], now=now)
    assert ops.queue == {"received": 0, "queued": 1, "processing": 0}
    assert ops.latency_p50_s == pytest.approx(150) and ops.latency_p95_s == pytest.approx(231)
    assert ops.failure_rate == pytest.approx(2 / 6)
    assert ops.failure_reasons == [("No usable series", 2)]
    assert sum(n for _, n in ops.studies_per_day) == 7 and len(ops.studies_per_day) == 14


def test_operations_for__hides_other_hospitals(hospital_a, hospital_b, admin_a):
    make_case(hospital=hospital_b, probability=None, status=Study.Status.QUEUED)
    ops = selectors.operations_for(user=admin_a, hospitals=[hospital_a, hospital_b])
    assert ops.queue["queued"] == 0 and sum(n for _, n in ops.studies_per_day) == 0


def test_fhir_report_get__hides_other_hospitals(hospital_b, admin_a):
    study = make_case(hospital=hospital_b, probability=0.9)
    with pytest.raises(NotFound):
        selectors.fhir_report_get(user=admin_a, study_uuid=study.uuid)


def test_fhir_report_get__audits_the_export(hospital_a, clinician):
    study = make_case(hospital=hospital_a, probability=0.9)
    selectors.fhir_report_get(user=clinician, study_uuid=study.uuid)
    event = AuditEvent.objects.get(action=MonitoringAction.FHIR_EXPORTED)
    assert (event.actor, event.object_id, event.hospital) == (clinician, str(study.uuid), hospital_a)


def test_research_export_rows__hides_other_hospitals_and_audits(hospital_a, hospital_b, admin_a):
    make_case(hospital=hospital_a, probability=0.9)
    make_case(hospital=hospital_b, probability=0.8)
    rows = selectors.research_export_rows(user=admin_a, hospitals=[hospital_a, hospital_b])
    assert [row["hospital"] for row in rows] == ["a"]
    assert AuditEvent.objects.filter(action=MonitoringAction.RESEARCH_EXPORTED, hospital=hospital_a).exists()
