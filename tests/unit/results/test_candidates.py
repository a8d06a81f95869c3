"""Shadow candidacies in the results app: who sees them, ending one, and their REST API."""
import pytest
from django.core.exceptions import PermissionDenied

from tests.unit.monitoring.factories import SHIPPED_3D
from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.results.models import Candidate
from triage.results.selectors import candidate_get, candidates_visible_to, open_candidacies
from triage.results.services import end_candidacy, mark_candidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidacies(platform_admin, hospital_a, hospital_b):
    """One candidacy per hospital and one for every hospital."""
    return {scope: mark_candidate(actor=platform_admin, reference=SHIPPED_3D, hospital=hospital)
            for scope, hospital in (("a", hospital_a), ("b", hospital_b), ("all", None))}


def test_candidates_visible_to__hospital_admin_sees_own_and_all_hospital_candidacies(candidacies, admin_a,
                                                                                     platform_admin, radiologist):
    assert set(candidates_visible_to(user=admin_a)) == {candidacies["a"], candidacies["all"]}
    assert set(candidates_visible_to(user=platform_admin)) == set(candidacies.values())
    assert list(candidates_visible_to(user=radiologist)) == []  # a member without the admin role


def test_candidate_get__another_hospitals_candidacy_is_not_found(candidacies, admin_a):
    assert candidate_get(user=admin_a, candidate_uuid=candidacies["a"].uuid) == candidacies["a"]
    with pytest.raises(NotFound):
        candidate_get(user=admin_a, candidate_uuid=candidacies["b"].uuid)


def test_end_candidacy__audited_once_and_a_no_op_when_ended(candidacies, platform_admin):
    ended = end_candidacy(actor=platform_admin, candidate=candidacies["a"])
    assert ended.ended_at is not None and candidacies["a"] not in open_candidacies()
    assert end_candidacy(actor=platform_admin, candidate=ended).ended_at == ended.ended_at
    event = AuditEvent.objects.get(action="model.candidate_ended")
    assert event.actor == platform_admin and event.extra == {"model": SHIPPED_3D, "hospital": "a"}


def test_end_candidacy__hospital_admin_is_refused(candidacies, admin_a):
    with pytest.raises(PermissionDenied):
        end_candidacy(actor=admin_a, candidate=candidacies["a"])
    assert Candidate.objects.get(id=candidacies["a"].id).ended_at is None


def test_candidate_apis__platform_admin_marks_lists_and_ends(platform_admin, hospital_a, api_client_for):
    client = api_client_for(platform_admin)
    response = client.post("/api/models/candidates/", {"reference": SHIPPED_3D, "hospital": str(hospital_a.uuid)},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["model"], body["hospital"], body["ended_at"]) == (SHIPPED_3D, "a", None)
    assert [row["uuid"] for row in client.get("/api/models/candidates/").json()] == [body["uuid"]]
    ended = client.post(f"/api/models/candidates/{body['uuid']}/end/")
    assert ended.status_code == 200 and ended.json()["ended_at"] is not None
    assert client.post("/api/models/candidates/", {"reference": "nope/0"}, format="json").status_code == 404


def test_candidate_apis__hospital_admin_reads_but_cannot_mark_or_end(candidacies, admin_a, api_client_for):
    client = api_client_for(admin_a)
    assert {row["hospital"] for row in client.get("/api/models/candidates/").json()} == {"a", None}
    assert client.post("/api/models/candidates/", {"reference": SHIPPED_3D}, format="json").status_code == 403
    assert client.post(f"/api/models/candidates/{candidacies['a'].uuid}/end/").status_code == 403
    assert client.post(f"/api/models/candidates/{candidacies['b'].uuid}/end/").status_code == 404
    assert not AuditEvent.objects.filter(action="model.candidate_ended").exists()
