"""Send DICOM objects to a hospital peer: C-STORE (pynetdicom SCU) or STOW-RS (HTTP); no Django models.

Every failure is a :class:`SendError` with a sentence for the export log and ``transient``:
``True`` when trying again later may help (peer down, timeout, HTTP 5xx, an association
refused for now), ``False`` when it will not (a rejected object, bad credentials, HTTP 4xx).
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import requests
from pydicom.dataset import Dataset
from pynetdicom import AE, build_context

from triage.gateway.echo import CALLING_AE_TITLE
from triage.gateway.wado import multipart_body, new_boundary

TIMEOUT_S = 30


class SendError(Exception):
    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.message, self.transient = message, transient


def encode(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _associate(*, host: str, port: int, called_ae: str, contexts):
    ae = AE(ae_title=CALLING_AE_TITLE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_S
    assoc = ae.associate(host, port, contexts=contexts, ae_title=called_ae)
    if not assoc.is_established:
        raise SendError(f"The DICOM peer {called_ae}@{host}:{port} did not accept an association.",
                        transient=not assoc.is_rejected)
    return assoc


def cstore_send(datasets: Sequence[Dataset], *, host: str, port: int, called_ae: str) -> None:
    """Send every dataset on one association; raise :class:`SendError` on the first failure."""
    contexts = [build_context(sop_class, str(ds.file_meta.TransferSyntaxUID))
                for sop_class, ds in {str(ds.SOPClassUID): ds for ds in datasets}.items()]
    assoc = _associate(host=host, port=port, called_ae=called_ae, contexts=contexts)
    try:
        for dataset in datasets:
            status = assoc.send_c_store(dataset)
            code = getattr(status, "Status", None)
            if code is None:
                raise SendError("The DICOM peer did not answer a C-STORE (timeout or aborted).", transient=True)
            if code not in (0x0000, 0xB000, 0xB007, 0xB006):  # success, or success with a warning
                comment = str(status.get("ErrorComment", "") or "")
                raise SendError(f"The DICOM peer refused a {dataset.Modality} object with status 0x{code:04X}"
                                f"{': ' + comment if comment else ''}.", transient=code in (0xA700, 0xA701, 0xA702))
    finally:
        assoc.release()


def stow_send(datasets: Sequence[Dataset], *, url: str, username: str = "", password: str = "") -> None:
    """POST every dataset in one STOW-RS request to ``{url}/studies``."""
    boundary = new_boundary()
    body = b"".join(multipart_body((encode(ds) for ds in datasets), boundary=boundary, part_type="application/dicom"))
    headers = {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
               "Accept": "application/dicom+json"}
    try:
        response = requests.post(f"{url.rstrip('/')}/studies", data=body, headers=headers, timeout=TIMEOUT_S,
                                 auth=(username, password) if username else None)
    except requests.RequestException as exc:
        raise SendError(f"The STOW-RS server could not be reached ({type(exc).__name__}).", transient=True) from None
    if response.status_code >= 500:
        raise SendError(f"The STOW-RS server answered HTTP {response.status_code}.", transient=True)
    if response.status_code >= 300:
        warning = response.headers.get("Warning", "")[:200]
        raise SendError(f"The STOW-RS server refused the objects: HTTP {response.status_code}"
                        f"{' (' + warning + ')' if warning else ''}.", transient=False)
    try:
        failed = response.json().get("00081198", {}).get("Value", [])
    except ValueError:
        failed = []
    if failed:
        raise SendError(f"The STOW-RS server refused {len(failed)} of {len(datasets)} objects.", transient=False)


def stow_check(*, url: str, username: str = "", password: str = "") -> str:
    """Check that the DICOMweb server answers with these credentials (a QIDO-RS search for one study)."""
    try:
        response = requests.get(f"{url.rstrip('/')}/studies", params={"limit": 1}, timeout=TIMEOUT_S,
                                auth=(username, password) if username else None,
                                headers={"Accept": "application/dicom+json"})
    except requests.RequestException as exc:
        raise SendError(f"The DICOMweb server could not be reached ({type(exc).__name__}).", transient=True) from None
    if response.status_code >= 300:
        raise SendError(f"The DICOMweb server answered HTTP {response.status_code}.", transient=True)
    return f"The DICOMweb server answered HTTP {response.status_code}."
