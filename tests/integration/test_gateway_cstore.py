"""C-STORE SCP end to end: a pynetdicom SCU sends to our SCP on a free loopback port."""
import logging
import os
import signal
import subprocess
import sys
import threading
import warnings
from types import SimpleNamespace

import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, RLELossless
from django.db import connection
from pynetdicom import AE

from triage.accounts.models import Role
from triage.gateway import dicomweb
from triage.gateway.scp import NOT_AUTHORISED, SUCCESS, StoreScp
from triage.gateway.spool_journal import SUFFIX, read_records
from triage.gateway.services import create_dicom_node, deactivate_dicom_node
from triage.studies.models import Instance, Study
from tests.conftest import REPO_ROOT, _worker_env
from tests.integration.helpers import free_port, wait_for

SCP_AE_TITLE = "CTTRIAGE"
SENDER_AE_TITLE = "CT_WARD7"


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch, study_storage):
    """Ingest tasks are not under test here: do not publish them."""
    monkeypatch.setattr("triage.pipeline.services.enqueue_ingest", lambda *, study_id: True)


@pytest.fixture
def admin_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.ADMIN)


@pytest.fixture
def node_a(hospital_a, admin_a):
    return create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title=SENDER_AE_TITLE)


@pytest.fixture
def scp(tmp_path):
    server = StoreScp(host="127.0.0.1", port=0, ae_title=SCP_AE_TITLE, idle_seconds=30, spool_dir=tmp_path / "spool")
    server.start()
    yield server
    server.stop()


def series_datasets(phantom_series, *, seed: int, transfer_syntax=ExplicitVRLittleEndian) -> list[pydicom.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        paths = phantom_series(slices=8, size_px=64, severity="none", seed=seed, transfer_syntax=transfer_syntax)
    return [pydicom.dcmread(p) for p in paths]


def associate(scp: StoreScp, *, calling: str = SENDER_AE_TITLE, transfer_syntax=ExplicitVRLittleEndian):
    ae = AE(ae_title=calling)
    ae.add_requested_context(CTImageStorage, transfer_syntax)
    host, port = scp.address
    return ae.associate(host, port, ae_title=SCP_AE_TITLE)


def send_all(assoc, datasets) -> list[int]:
    return [assoc.send_c_store(ds).Status for ds in datasets]


@pytest.mark.django_db(transaction=True)
def test_store_scp__known_ae_series_becomes_a_study_of_its_hospital(scp, node_a, hospital_a, hospital_b,
                                                                    phantom_series, caplog):
    caplog.set_level(logging.INFO)
    datasets = series_datasets(phantom_series, seed=11)
    assoc = associate(scp)
    assert assoc.is_established

    statuses = send_all(assoc, datasets)
    assoc.release()

    assert statuses == [SUCCESS] * len(datasets)
    assert scp.wait_until_flushed(timeout_s=20)
    study = Study.objects.get()
    assert (study.hospital, study.source, study.uploaded_by) == (hospital_a, Study.Source.CSTORE, None)
    assert study.study_instance_uid == datasets[0].StudyInstanceUID
    assert Instance.objects.filter(series__study=study).count() == len(datasets)
    assert not spooled_files(scp.spool_dir)
    [line] = wait_for(lambda: [r for r in caplog.records if r.getMessage() == "gateway.cstore_association"])
    assert (line.ae_title, line.stored, line.rejected, line.ended) == (SENDER_AE_TITLE, len(datasets), 0,
                                                                      "EVT_RELEASED")
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("pynetdicom")]


@pytest.mark.django_db(transaction=True)
def test_store_scp__rle_compressed_series_is_accepted(scp, node_a, phantom_series):
    datasets = series_datasets(phantom_series, seed=12, transfer_syntax=RLELossless)
    assoc = associate(scp, transfer_syntax=RLELossless)

    statuses = send_all(assoc, datasets)
    assoc.release()

    assert statuses == [SUCCESS] * len(datasets)
    assert scp.wait_until_flushed(timeout_s=20)
    assert Instance.objects.count() == len(datasets)


@pytest.mark.django_db(transaction=True)
def test_store_scp__unknown_ae_is_rejected_and_nothing_stored(scp, node_a):
    assoc = associate(scp, calling="STRANGER")

    assert assoc.is_rejected
    rejection = assoc.acceptor.primitive
    assert (rejection.result, rejection.result_source, rejection.diagnostic) == (0x01, 0x01, 0x03)
    assert scp.wait_until_flushed(timeout_s=5)
    assert not Study.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_store_scp__deactivated_node_is_rejected(scp, node_a, admin_a):
    deactivate_dicom_node(actor=admin_a, node=node_a)

    assoc = associate(scp)

    assert assoc.is_rejected


@pytest.mark.django_db(transaction=True)
def test_store_scp__bad_instances_get_failure_statuses(scp, node_a, phantom_series):
    good, mr, no_pixels = series_datasets(phantom_series, seed=13)[:3]
    mr.Modality = "MR"
    del no_pixels.PixelData
    assoc = associate(scp)

    statuses = send_all(assoc, [mr, no_pixels, good])
    assoc.release()

    assert statuses == [dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
                        SUCCESS]
    assert scp.wait_until_flushed(timeout_s=20)
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [good.SOPInstanceUID]


@pytest.mark.django_db(transaction=True)
def test_store_scp__idle_study_is_handed_off_while_association_stays_open(scp, node_a, phantom_series):
    scp.idle_seconds = 0.2
    datasets = series_datasets(phantom_series, seed=14)
    assoc = associate(scp)

    statuses = send_all(assoc, datasets)
    flushed = scp.wait_until_flushed(timeout_s=20)
    still_open = assoc.is_established
    stored = Instance.objects.count()
    assoc.release()

    assert statuses == [SUCCESS] * len(datasets)
    assert (flushed, still_open, stored) == (True, True, len(datasets))


@pytest.mark.django_db(transaction=True)
def test_store_scp__node_deactivated_mid_association_gets_not_authorised(scp, node_a, admin_a, phantom_series):
    first, second = series_datasets(phantom_series, seed=15)[:2]
    assoc = associate(scp)
    assert send_all(assoc, [first]) == [SUCCESS]

    deactivate_dicom_node(actor=admin_a, node=node_a)
    statuses = send_all(assoc, [second])
    assoc.release()

    assert statuses == [NOT_AUTHORISED]
    assert scp.wait_until_flushed(timeout_s=20)
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [first.SOPInstanceUID]


def test_store_scp__encoded_bad_bytes_are_not_understood(tmp_path, monkeypatch):
    """A C-STORE whose bytes do not parse is answered 0xC000 rather than crashing the handler."""
    node = SimpleNamespace(id=1, uuid="node")
    monkeypatch.setattr("triage.gateway.selectors.active_node_for_ae_title", lambda *, ae_title: node)
    event = SimpleNamespace(assoc=SimpleNamespace(requestor=SimpleNamespace(ae_title=SENDER_AE_TITLE)),
                            encoded_dataset=lambda include_meta=True: b"\x00" * 10)

    status = StoreScp(port=0, spool_dir=tmp_path).handle_store(event)

    assert status == dicomweb.CANNOT_UNDERSTAND
    assert not list(tmp_path.iterdir())


def spooled_files(spool) -> list:
    return [p for p in spool.rglob("*") if p.is_file()]


def start_scp_process(*, port: int, spool_dir, idle_seconds: float) -> subprocess.Popen:
    """Start ``manage.py dicom_scp`` against the test database; return once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "dicom_scp", "--port", str(port), "--idle-seconds", str(idle_seconds),
         "--spool-dir", str(spool_dir)],
        cwd=REPO_ROOT, env=_worker_env(connection.settings_dict["NAME"]), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(60, proc.kill)  # a hung start fails the test instead of hanging it
    watchdog.start()
    startup = []
    for line in proc.stdout:  # log lines come first; the banner ends startup
        startup.append(line)
        if "listening on 127.0.0.1:" in line:
            break
    watchdog.cancel()
    assert "listening on 127.0.0.1:" in startup[-1], startup
    return proc


@pytest.mark.django_db(transaction=True)
def test_dicom_scp_command__instances_acknowledged_before_a_kill_are_handed_off_at_restart(
        node_a, hospital_a, tmp_path, phantom_series):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database a second process can share: run through tests/run.sh")
    spool, port = tmp_path / "spool", free_port()
    datasets = series_datasets(phantom_series, seed=31)
    first = start_scp_process(port=port, spool_dir=spool, idle_seconds=600)
    assoc = associate(SimpleNamespace(address=("127.0.0.1", port)))
    statuses = send_all(assoc, datasets)
    first.kill()  # SIGKILL with the association open: no release, no idle hand-off happened
    first.communicate(timeout=30)
    assoc.abort()

    assert statuses == [SUCCESS] * len(datasets)
    assert not Instance.objects.exists()
    assert sum(1 for journal in spool.rglob(f"*{SUFFIX}") for _ in read_records(journal)) == len(datasets)
    second = start_scp_process(port=free_port(), spool_dir=spool, idle_seconds=600)
    try:
        stored = wait_for(lambda: Instance.objects.filter(series__study__hospital=hospital_a).count()
                          == len(datasets), timeout_s=60)
    finally:
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=30)
    assert stored, output
    assert not spooled_files(spool)


@pytest.mark.django_db(transaction=True)
def test_dicom_scp_command__listens_answers_echo_and_stops_on_sigterm(node_a, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database a second process can share: run through tests/run.sh")
    port = free_port()
    proc = start_scp_process(port=port, spool_dir=tmp_path / "spool", idle_seconds=1)
    try:
        ae = AE(ae_title=SENDER_AE_TITLE)
        ae.add_requested_context("1.2.840.10008.1.1")
        assoc = ae.associate("127.0.0.1", port, ae_title=SCP_AE_TITLE)
        assert assoc.is_established
        assert assoc.send_c_echo().Status == SUCCESS
        assoc.release()
        stranger = AE(ae_title="STRANGER")
        stranger.add_requested_context("1.2.840.10008.1.1")
        assert stranger.associate("127.0.0.1", port, ae_title=SCP_AE_TITLE).is_rejected
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "stopped" in output
