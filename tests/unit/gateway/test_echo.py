"""The one C-ECHO of the platform against a real pynetdicom Verification SCP on loopback."""
import pytest

from tests.integration.helpers import free_port
from tests.verification_scp import verification_scp
from triage.gateway.echo import CALLING_AE_TITLE, c_echo


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
