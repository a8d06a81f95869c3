"""Promotion on reviewed evidence, and the comparison and promotion REST APIs (factory studies, no model run)."""
from unittest import mock

import pytest

from tests.unit.monitoring.factories import SHIPPED_3D, shadow_candidate
from triage.audit.models import AuditEvent
from triage.core.exceptions import Conflict
from triage.pipeline import shadow, tasks
from triage.results.models import ModelVersion
from triage.results.services import end_candidacy

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate(platform_admin, hospital_a, admin_a):
    return shadow_candidate(actor=platform_admin, hospital=hospital_a, signer=admin_a)


def test_promote_reviewed_candidate__refuses_when_the_evidence_changed(candidate, platform_admin):
    with pytest.raises(Conflict, match="3 studies then, 4 now"):
        shadow.promote_reviewed_candidate(actor=platform_admin, candidate=candidate, reviewed_n=3, n_boot=50)
    assert not ModelVersion.objects.get(name="covidnet3d-shallow").is_active
    assert not AuditEvent.objects.filter(action="model.candidate_promoted").exists()


def test_promote_reviewed_candidate__ended_candidacy_is_refused(candidate, platform_admin):
    end_candidacy(actor=platform_admin, candidate=candidate)
    with pytest.raises(Conflict, match="ended"):
        shadow.promote_reviewed_candidate(actor=platform_admin, candidate=candidate, reviewed_n=4, n_boot=50)


def test_promote_reviewed_candidate__activates_reanalyses_and_audits_the_figures(candidate, platform_admin,
                                                                                django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.analyse_study, "apply_async") as analysis_sent, \
            django_capture_on_commit_callbacks(execute=True):
        version = shadow.promote_reviewed_candidate(actor=platform_admin, candidate=candidate,
                                                    reviewed_n=4, reanalyse=True, n_boot=50)
    assert version.is_active and version.reference == SHIPPED_3D
    assert analysis_sent.call_count == 5  # every ready study, through the model-activation path
    evidence = AuditEvent.objects.get(action="model.candidate_promoted").extra["evidence"]
    assert evidence["n"] == 4 and "roc" not in evidence and evidence["too_few"] is True
    assert AuditEvent.objects.filter(action="model.activated", actor=platform_admin).exists()


def test_comparison_api__hospital_admin_reads_own_hospital_only(candidate, admin_a, admin_b, api_client_for):
    url = f"/api/models/candidates/{candidate.uuid}/comparison/"
    body = api_client_for(admin_a).get(url).json()
    assert (body["n"], body["hospital"], body["too_few"]) == (4, "a", True)
    assert body["b"]["sensitivity"]["value"] == 1.0 and len(body["disagreeing_studies"]) == 1
    assert api_client_for(admin_b).get(url).status_code == 404
    assert api_client_for(admin_a).get(url, {"label_source": "radiologist"}).json()["n"] == 0  # nothing signed


def test_promote_api__hospital_admin_is_refused_and_stale_evidence_is_409(candidate, admin_a, platform_admin,
                                                                          api_client_for):
    url = f"/api/models/candidates/{candidate.uuid}/promote/"
    assert api_client_for(admin_a).post(url, {"reviewed_n": 4}, format="json").status_code == 403
    stale = api_client_for(platform_admin).post(url, {"reviewed_n": 2}, format="json")
    assert stale.status_code == 409 and stale.json()["extra"] == {"reviewed_n": 2, "n": 4}
    promoted = api_client_for(platform_admin).post(url, {"reviewed_n": 4}, format="json")
    assert promoted.status_code == 200 and promoted.json()["reference"] == SHIPPED_3D
    assert ModelVersion.objects.get(is_active=True).reference == SHIPPED_3D
