import re

import pytest
from django.core.exceptions import PermissionDenied

from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.core.exceptions import DomainError, NotFound
from triage.gateway import selectors
from triage.gateway.audit_actions import GatewayAction
from triage.gateway.exceptions import AE_TITLE_TAKEN_MSG, TokenNotBoundToHospital
from triage.gateway.selectors import NO_ACTIVE_NODE_SENTINEL
from triage.gateway.services import create_dicom_node, deactivate_dicom_node


@pytest.fixture
def admin_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.ADMIN)


@pytest.mark.django_db
def test_create_dicom_node__maps_title_and_audits(hospital_a, admin_a):
    node = create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title=" CT_WARD7 ", description="ward 7")

    assert (node.ae_title, node.hospital, node.is_active) == ("CT_WARD7", hospital_a, True)
    event = AuditEvent.objects.get(action=GatewayAction.NODE_CREATED)
    assert (event.actor, event.hospital, event.object_id, event.extra) == (
        admin_a, hospital_a, str(node.uuid), {"ae_title": "CT_WARD7"})


@pytest.mark.django_db
def test_create_dicom_node__needs_hospital_admin(hospital_a, make_user):
    radiologist = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)

    with pytest.raises(PermissionDenied):
        create_dicom_node(actor=radiologist, hospital=hospital_a, ae_title="CT1")
    assert not AuditEvent.objects.filter(action=GatewayAction.NODE_CREATED).exists()


@pytest.mark.django_db
def test_create_dicom_node__title_unique_across_hospitals(hospital_a, hospital_b, admin_a, make_user):
    create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="CT1")
    admin_b = make_user(hospital=hospital_b, role=Role.ADMIN)

    with pytest.raises(DomainError, match=re.escape(AE_TITLE_TAKEN_MSG)):
        create_dicom_node(actor=admin_b, hospital=hospital_b, ae_title="CT1")


@pytest.mark.django_db
def test_deactivate_dicom_node__audits_once_then_no_op(hospital_a, admin_a):
    node = create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="CT1")

    deactivate_dicom_node(actor=admin_a, node=node)
    deactivate_dicom_node(actor=admin_a, node=node)

    node.refresh_from_db()
    assert node.is_active is False
    events = AuditEvent.objects.filter(action=GatewayAction.NODE_DEACTIVATED)
    assert [e.extra["is_active"] for e in events] == [{"old": True, "new": False}]


@pytest.mark.django_db
def test_active_ae_titles__only_active_nodes_and_never_empty(hospital_a, admin_a):
    assert selectors.active_ae_titles() == [NO_ACTIVE_NODE_SENTINEL]
    kept = create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="KEPT")
    gone = create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="GONE")
    deactivate_dicom_node(actor=admin_a, node=gone)

    assert selectors.active_ae_titles() == [kept.ae_title]
    assert selectors.active_node_for_ae_title(ae_title="GONE") is None
    assert selectors.active_node_for_ae_title(ae_title="KEPT") == kept


@pytest.mark.django_db
def test_dicom_node_list__other_hospitals_admin_gets_not_found(hospital_a, hospital_b, admin_a, make_user):
    create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="CT1")
    admin_b = make_user(hospital=hospital_b, role=Role.ADMIN)

    with pytest.raises(NotFound):
        selectors.dicom_node_list(user=admin_b, hospital=hospital_a)


@pytest.mark.django_db
def test_stow_hospital_for__unbound_token_and_missing_role_are_refused(hospital_a, hospital_b, make_user):
    user = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    with pytest.raises(TokenNotBoundToHospital):
        selectors.stow_hospital_for(user=user)

    user.token_hospital_id = hospital_b.id
    with pytest.raises(PermissionDenied):
        selectors.stow_hospital_for(user=user)

    user.token_hospital_id = hospital_a.id
    assert selectors.stow_hospital_for(user=user) == hospital_a
