"""The reference client, ``dicomweb-client``, against a live platform: the Django server and gunicorn.

``dicomweb-client`` sends a STOW-RS body over its ``chunk_size`` (1 MB by default) with
``Transfer-Encoding: chunked`` and no Content-Length; below it, with a Content-Length.
"""
import signal
import subprocess
import sys
import time
import warnings

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from tests.conftest import REPO_ROOT, _worker_env
from tests.integration.helpers import free_port
from triage.accounts import services as account_services
from triage.accounts.models import Role
from triage.gateway import dicomweb
from triage.studies.models import Instance, Study

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Ingest tasks are not under test here: do not publish them (the live server runs in-process)."""
    monkeypatch.setattr("triage.pipeline.services.enqueue_ingest", lambda *, study_id: True)


@pytest.fixture
def token(transactional_db, hospital_a, make_user):
    sender = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    _, key = account_services.create_api_token(actor=sender, name="pacs", hospital=hospital_a)
    return key


@pytest.fixture
def datasets(phantom_series):
    """Eight 128² slices: about 270 kB, so 8 go in one body below 1 MB and are re-sent chunked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [pydicom.dcmread(p) for p in phantom_series(slices=8, size_px=128, severity="none", seed=3)]


@pytest.fixture(scope="module")
def gunicorn_server(django_db_setup, tmp_path_factory):
    """A real gunicorn serving the platform against the test database (one per module); yield its URL."""
    from django.db import connection

    tmp_path = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = _worker_env(connection.settings_dict["NAME"]) | {"TRIAGE_VAR_DIR": str(tmp_path / "var")}
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "triage.wsgi", "-b", f"127.0.0.1:{port}",
                             "--workers", "1", "--timeout", "60"], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/api/health/", timeout=5)
            break
        except requests.RequestException:  # not listening yet, or still importing the app
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
    yield url
    proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown (TERM waits for a graceful one)
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(params=["django", "gunicorn"])
def base_url(request, transactional_db):
    if request.param == "django":
        return request.getfixturevalue("live_server").url
    return request.getfixturevalue("gunicorn_server")


def client_for(base_url: str, key: str, *, chunk_size: int = 10**6) -> DICOMwebClient:
    return DICOMwebClient(url=f"{base_url}/dicomweb", headers={"Authorization": f"Token {key}"},
                          chunk_size=chunk_size)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_study_store_api__dicomweb_client_stores_chunked_and_sized_bodies(base_url, token, hospital_a, datasets,
                                                                          chunked):
    client = client_for(base_url, token, chunk_size=64 * 1024 if chunked else 10**8)

    answer = client.store_instances(datasets)

    stored = [item.ReferencedSOPInstanceUID for item in answer.ReferencedSOPSequence]
    assert stored == [ds.SOPInstanceUID for ds in datasets]
    assert Instance.objects.filter(series__study__hospital=hospital_a).count() == len(datasets)


def test_study_store_api__each_failed_instance_says_why(live_server, token, datasets):
    anonymised = datasets[1].copy()
    anonymised.SOPInstanceUID = ""  # some anonymisers blank it
    url = f"{live_server.url}/dicomweb/studies"
    body = DICOMwebClient._encode_multipart_message(
        [_encoded(datasets[0]), _encoded(anonymised)], 'multipart/related; type="application/dicom"; boundary=b0')

    response = requests.post(url, data=iter([body[:1000], body[1000:]]), headers={  # a generator: chunked
        "Authorization": f"Token {token}", "Content-Type": 'multipart/related; type="application/dicom"; boundary=b0'})

    assert response.status_code == 202, response.text
    [failed] = pydicom.Dataset.from_json(response.json()).FailedSOPSequence
    assert failed.FailureReason == dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS
    assert "SOPInstanceUID" in failed.ErrorComment
    assert response.headers["Warning"].startswith('299 - "1 instance failed with 0xA900: ')
    assert "SOPInstanceUID" in response.headers["Warning"]
    assert Study.objects.get().series.get().instances.count() == 1


def _encoded(ds: pydicom.Dataset) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
