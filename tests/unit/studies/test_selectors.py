import pytest

from tests.corpus.make_bad_inputs import ct_series
from tests.unit.studies.helpers import receive
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.studies import selectors
from triage.studies.exceptions import StudyNotFound
from triage.studies.models import Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_hospitals_with_studies(hospital_a, hospital_b, make_user):
    a_user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    b_user = make_user(hospital=hospital_b, role=Role.RADIOLOGIST)
    mine = receive(hospital=hospital_a, user=a_user, files=ct_series(slices=1)).studies[0]
    theirs = receive(hospital=hospital_b, user=b_user, files=ct_series(slices=1)).studies[0]
    return a_user, Study.objects.get(uuid=mine), Study.objects.get(uuid=theirs)


def test_studies_visible_to__hides_other_hospitals(two_hospitals_with_studies):
    user, mine, _ = two_hospitals_with_studies
    assert list(selectors.studies_visible_to(user=user)) == [mine]


def test_study_list__hides_other_hospitals_even_when_filtered_by_them(two_hospitals_with_studies):
    user, mine, theirs = two_hospitals_with_studies
    assert list(selectors.study_list(user=user, filters=selectors.StudyFilters())) == [mine]
    assert not selectors.study_list(user=user, filters=selectors.StudyFilters(hospital_uuid=theirs.hospital.uuid))


def test_study_list__platform_admin_sees_all(two_hospitals_with_studies, make_user):
    admin = make_user(is_platform_admin=True)
    assert selectors.study_list(user=admin, filters=selectors.StudyFilters()).count() == 2


def test_study_get__foreign_study_is_not_found(two_hospitals_with_studies):
    user, _, theirs = two_hospitals_with_studies
    with pytest.raises(StudyNotFound):
        selectors.study_get(user=user, study_uuid=theirs.uuid)


def test_access_study__audits_read_and_hides_foreign(two_hospitals_with_studies):
    user, mine, theirs = two_hospitals_with_studies
    assert selectors.access_study(user=user, study_uuid=mine.uuid) == mine
    with pytest.raises(StudyNotFound):
        selectors.access_study(user=user, study_uuid=theirs.uuid)
    assert list(AuditEvent.objects.filter(action="study.viewed").values_list("object_id", flat=True)) == [
        str(mine.uuid)]


def test_upload_hospitals_for__only_hospitals_with_upload_role(hospital_a, hospital_b, make_user):
    from triage.accounts.models import Membership
    user = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    assert list(selectors.upload_hospitals_for(user=user)) == [hospital_a]
    Membership.objects.filter(user=user).delete()
    assert not selectors.upload_hospitals_for(user=user).exists()


def test_ordered_slices__is_the_order_ingest_stored_feet_to_head(hospital_a, radiologist, phantom_series):
    from tests.unit.studies.helpers import read_paths
    from triage.studies.services.ingest import ingest_study

    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series(slices=12)))
    study = ingest_study(study_id=Study.objects.get().id).study
    slices = list(selectors.ordered_slices(study=study))
    z = [s.z_position_mm for s in slices]
    assert len(slices) == 12 and z == sorted(z)
    assert [s.instance_number for s in slices] == list(range(12, 0, -1))  # instance 1 is the most superior


def test_ordered_slices__empty_before_a_series_is_selected(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=2))
    assert list(selectors.ordered_slices(study=Study.objects.get())) == []
