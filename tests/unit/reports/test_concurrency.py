"""Two radiologists sign the same study at the same moment: the database decides, one gets 409."""
import threading

import pytest
from django.db import connection, connections

from tests.unit.reports.factories import make_ready_study
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.reports import exceptions as errors
from triage.reports import services
from triage.reports.models import Report


@pytest.mark.django_db(transaction=True)
def test_sign_report__concurrent_signers_get_one_success_and_one_409(hospital_a, make_user, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking and concurrent transactions: run through tests/run.sh")
    study = make_ready_study(hospital=hospital_a)
    signers = [make_user(hospital=hospital_a, role=Role.RADIOLOGIST) for _ in range(2)]
    both_read = threading.Barrier(2, timeout=20)
    seen = threading.local()
    original = services.latest_report_for

    def latest_then_wait(*, study):
        latest = original(study=study)
        if not getattr(seen, "done", False):  # both read "no report yet" before either inserts
            seen.done = True
            both_read.wait()
        return latest

    monkeypatch.setattr(services, "latest_report_for", latest_then_wait)
    outcomes: dict[str, object] = {}

    def sign(user, label):
        try:
            outcomes[user.username] = services.sign_report(study=study, actor=user, label=label, expected_version=0)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each signer got
            outcomes[user.username] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign, args=(user, label)) for user, label in zip(signers, ("covid", "normal"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    reports = [o for o in outcomes.values() if isinstance(o, Report)]
    conflicts = [o for o in outcomes.values() if isinstance(o, errors.ReportConflict)]
    assert len(reports) == 1 and len(conflicts) == 1, outcomes
    assert conflicts[0].status_code == 409
    assert conflicts[0].message.startswith("Another radiologist signed this study at ")
    assert Report.objects.filter(study=study).count() == 1
    assert AuditEvent.objects.filter(action="report.signed").count() == 1
