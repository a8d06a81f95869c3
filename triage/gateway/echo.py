"""C-ECHO (DICOM Verification) to a peer: the one "Test connection" of the platform.

Used for the export destinations (the PACS the results go to) and for the DICOM nodes that send
studies, where the admin has given the node's own host and port. It never raises: an admin
needs a sentence saying what happened (refused, no answer, wrong AE title), not a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynetdicom import AE, build_context
from pynetdicom.sop_class import Verification

CALLING_AE_TITLE = "CTTRIAGE"  # the platform's AE title when it is the SCU (exports, echo)
ECHO_TIMEOUT_S = 10


@dataclass(frozen=True)
class EchoResult:
    ok: bool
    message: str


def c_echo(*, host: str, port: int, called_ae: str, timeout_s: float = ECHO_TIMEOUT_S) -> EchoResult:
    """Associate with ``called_ae`` at ``host:port``, send one C-ECHO and say how it went."""
    peer = f"{called_ae}@{host}:{port}"
    ae = AE(ae_title=CALLING_AE_TITLE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    try:
        assoc = ae.associate(host, port, contexts=[build_context(Verification)], ae_title=called_ae)
    except (OSError, ValueError) as exc:  # an unresolvable host name, a malformed address
        return EchoResult(False, f"Could not connect to {peer}: {exc}.")
    if assoc.is_rejected:
        return EchoResult(False, f"{peer} rejected the association (wrong AE title, or {CALLING_AE_TITLE} "
                                 f"is not allowed to connect there).")
    if not assoc.is_established:
        return EchoResult(False, f"No DICOM answer from {peer} (nothing listening, a firewall, or a timeout).")
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    code = getattr(status, "Status", None)
    if code is None:
        return EchoResult(False, f"{peer} accepted the association but did not answer the C-ECHO.")
    if code != 0x0000:
        return EchoResult(False, f"{peer} answered the C-ECHO with status 0x{code:04X}.")
    return EchoResult(True, f"C-ECHO to {peer} succeeded.")
