"""A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on loopback, as the hospital's PACS in tests."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.integration.helpers import free_port

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
AE_TITLE = "ORTHANC"
USER, PASSWORD = "pacs", "pacs-secret"


def missing() -> str:
    """Return why Orthanc cannot run here, or ``""``."""
    if shutil.which(ORTHANC) is None and not Path(ORTHANC).exists():
        return "Orthanc is absent: install Debian orthanc and orthanc-dicomweb (tests/run.sh does)"
    if not Path(DICOMWEB_PLUGIN).exists():
        return "the Orthanc DICOMweb plugin is absent: install Debian orthanc-dicomweb (tests/run.sh does)"
    return ""


@dataclass
class Orthanc:
    """A running Orthanc: REST at ``url`` (Basic auth), DICOM at ``dicom_port``, DICOMweb at ``dicomweb_url``."""

    process: subprocess.Popen
    http_port: int
    dicom_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def get(self, path: str):
        response = requests.get(f"{self.url}{path}", auth=(USER, PASSWORD), timeout=10)
        response.raise_for_status()
        return response.json()

    def instance_tags(self) -> dict[str, dict]:
        """Return SOPInstanceUID -> simplified tags of every instance Orthanc indexed."""
        out = {}
        for orthanc_id in self.get("/instances"):
            tags = self.get(f"/instances/{orthanc_id}/simplified-tags")
            out[tags["SOPInstanceUID"]] = tags
        return out

    def clear(self) -> None:
        for orthanc_id in self.get("/studies"):
            requests.delete(f"{self.url}/studies/{orthanc_id}", auth=(USER, PASSWORD), timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(folder: Path, *, plugins: bool = True, authentication: bool = True) -> Orthanc:
    """Start Orthanc with a throw-away configuration and storage in ``folder``; wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "test-pacs", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "HttpPort": http_port, "DicomPort": dicom_port, "DicomAet": AE_TITLE, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": authentication, "RegisteredUsers": {USER: PASSWORD},
        "DicomCheckCalledAet": False, "DicomAlwaysAllowStore": True, "DicomAlwaysAllowEcho": True,
        "StorageCompression": False, "StableAge": 60, "HttpServerEnabled": True, "SaveJobs": False,
        "Plugins": [DICOMWEB_PLUGIN] if plugins else [], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "ConcurrentJobs": 1, "DicomThreadsCount": 4, "LogExportedResources": False,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = open(folder / "orthanc.log", "wb")
    process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    orthanc = Orthanc(process=process, http_port=http_port, dicom_port=dicom_port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited: {(folder / 'orthanc.log').read_text()[-2000:]}")
        try:
            requests.get(f"{orthanc.url}/system", auth=(USER, PASSWORD), timeout=1).raise_for_status()
            return orthanc
        except requests.RequestException:
            time.sleep(0.2)
    orthanc.stop()
    raise RuntimeError("Orthanc did not answer within 30 s")
