import pytest

from triage.accounts import selectors, services
from triage.accounts.models import Hospital, Role
from triage.accounts.tenancy import hospitals_visible_to, scope_to_user
from triage.core.exceptions import NotFound


@pytest.mark.django_db
def test_hospitals_visible_to__member_sees_only_own(hospital_a, hospital_b, make_user):
    user = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    assert list(hospitals_visible_to(user=user)) == [hospital_a]


@pytest.mark.django_db
def test_hospitals_visible_to__platform_admin_sees_all(hospital_a, hospital_b, make_user):
    assert set(hospitals_visible_to(user=make_user(is_platform_admin=True))) == {hospital_a, hospital_b}


@pytest.mark.django_db
def test_hospitals_visible_to__user_without_membership_sees_none(hospital_a, make_user):
    assert list(hospitals_visible_to(user=make_user())) == []


@pytest.mark.django_db
def test_scope_to_user__hospital_bound_token_narrows_a_multi_hospital_user(hospital_a, hospital_b, make_user):
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    services.grant_membership(actor=None, hospital=hospital_b, user=user, role="radiologist")
    user.token_hospital_id = hospital_b.id
    assert list(scope_to_user(Hospital.objects.all(), user=user, hospital_field="")) == [hospital_b]


@pytest.mark.django_db
def test_hospital_get__foreign_hospital_is_not_found(hospital_a, hospital_b, make_user):
    user = make_user(hospital=hospital_a, role=Role.ADMIN)
    assert selectors.hospital_get(user=user, hospital_uuid=hospital_a.uuid) == hospital_a
    with pytest.raises(NotFound):
        selectors.hospital_get(user=user, hospital_uuid=hospital_b.uuid)
