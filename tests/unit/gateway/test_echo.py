"""The one C-ECHO of the platform against a real pynetdicom Verification SCP on loopback."""
import pytest

from tests.integration.helpers import free_port
from tests.verification_scp import verification_scp
from triage.audit.models import AuditEvent
from triage.core.exceptions import DomainError
from triage.gateway.echo import CALLING_AE_TITLE, c_echo
from triage.gateway.services import create_dicom_node, echo_dicom_node, set_dicom_node_echo_address


@pytest.fixture
def peer():
    with verification_scp("PEER") as running:
        yield running


def test_c_echo__success_names_the_peer_and_calls_as_the_platform(peer):
    port, seen = peer

    result = c_echo(host="127.0.0.1", port=port, called_ae="PEER")

    assert (result.ok, result.message) == (True, f"C-ECHO to PEER@127.0.0.1:{port} succeeded.")
    assert seen == [CALLING_AE_TITLE]


def test_c_echo__wrong_called_ae_title_says_the_association_was_rejected(peer):
    port, _ = peer

    result = c_echo(host="127.0.0.1", port=port, called_ae="SOMEONE")

    assert result.ok is False and "rejected the association (wrong AE title" in result.message


def test_c_echo__nothing_listening_is_a_sentence_not_an_exception():
    result = c_echo(host="127.0.0.1", port=free_port(), called_ae="PEER", timeout_s=2)

    assert result.ok is False and result.message.startswith("No DICOM answer from PEER@127.0.0.1:")


@pytest.mark.django_db
def test_echo_dicom_node__calls_the_node_by_its_title_and_audits(peer, admin_a, hospital_a):
    port, _ = peer
    node = create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="PEER", host="127.0.0.1", port=port)

    result = echo_dicom_node(actor=admin_a, node=node)

    assert result.ok is True
    assert AuditEvent.objects.get(action="dicom_node.echoed").extra == {"ok": True, "message": result.message}


@pytest.mark.django_db
def test_echo_dicom_node__without_an_address_says_what_to_add_and_half_an_address_is_refused(admin_a, hospital_a):
    node = create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title="CT1")

    result = echo_dicom_node(actor=admin_a, node=node)
    with pytest.raises(DomainError, match="both the host and the port"):
        set_dicom_node_echo_address(actor=admin_a, node=node, host="ct1.example", port=None)

    assert (result.ok, result.message) == (False, "CT1 has no host and port to test: add where it answers "
                                                  "C-ECHO first.")
    node.refresh_from_db()
    assert (node.host, node.port) == ("", None)
