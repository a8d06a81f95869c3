"""A pynetdicom Verification SCP on loopback: the peer that "Test connection" tests talk to."""
from contextlib import contextmanager

from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from tests.integration.helpers import free_port


@contextmanager
def verification_scp(ae_title: str = "PEER"):
    """Run a C-ECHO SCP called ``ae_title`` (other called titles are rejected); yield (port, calling titles seen)."""
    ae = AE(ae_title=ae_title)
    ae.require_called_aet = True
    ae.add_supported_context(Verification)
    port, seen = free_port(), []

    def on_echo(event) -> int:
        seen.append(event.assoc.requestor.ae_title)
        return 0x0000

    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_ECHO, on_echo)])
    try:
        yield port, seen
    finally:
        server.shutdown()
