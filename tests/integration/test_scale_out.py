"""Many processes, one truth: 2 gunicorn + 2 ingest + 2 gpu workers + the C-STORE SCP, one
PostgreSQL, Redis and S3 store, no shared disk.

A batch arrives at once over REST (both web servers), DICOMweb STOW-RS (both web servers)
and C-STORE, one study twice (REST on one server, STOW on the other). Every study must end
``ready`` with exactly one current Result, none lost or duplicated, the bucket must hold
exactly the files Instance and Overlay rows reference, and no process may have written a study file to
its local disk.
"""
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import warnings
from pathlib import Path

import pydicom
import pytest
from django.conf import settings
from django.db import connection
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE

from tests.conftest import REPO_ROOT, WorkerProcess, _worker_env, referenced_store_keys
from tests.faults.conftest import sweep_all, wait_until
from tests.s3server import free_port
from triage.accounts.models import Role
from triage.accounts.services import create_api_token
from triage.gateway.services import create_dicom_node
from triage.results.models import Result
from triage.studies.models import Instance, Study

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCP_AE, SENDER_AE = "CTTRIAGE", "CT_SCALE"


class Process:
    """A server subprocess (gunicorn, the SCP) logging to a file, stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wait_for_port(port: int, proc: Process, *, timeout_s: float = 120) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.proc.poll() is None, proc.log.read_text()[-3000:]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port}: {proc.log.read_text()[-3000:]}")


def multipart(fields: list[tuple[str, str, bytes]], *, boundary: str, form: bool) -> bytes:
    parts = []
    for name, filename, data in fields:
        head = (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/dicom\r\n" if form else "Content-Type: application/dicom\r\n")
        parts.append(f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def post(url: str, body: bytes, content_type: str, key: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, "Authorization": f"Token {key}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status


def rest_upload(base: str, key: str, hospital, files: list[bytes]) -> int:
    boundary = uuid.uuid4().hex
    hospital_part = (f'--{boundary}\r\nContent-Disposition: form-data; name="hospital"\r\n\r\n{hospital.uuid}\r\n').encode()
    body = hospital_part + multipart([("files", f"{i}.dcm", d) for i, d in enumerate(files)], boundary=boundary, form=True)
    return post(f"{base}/api/studies/", body, f"multipart/form-data; boundary={boundary}", key)


def stow_upload(base: str, key: str, files: list[bytes]) -> int:
    boundary = uuid.uuid4().hex
    body = multipart([("", "", d) for d in files], boundary=boundary, form=False)
    return post(f"{base}/dicomweb/studies", body, f'multipart/related; type="application/dicom"; boundary={boundary}', key)


def cstore(port: int, files: list[bytes]) -> list[int]:
    import io

    ae = AE(ae_title=SENDER_AE)
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title=SCP_AE)
    assert assoc.is_established
    statuses = [assoc.send_c_store(pydicom.dcmread(io.BytesIO(d))).Status for d in files]
    assoc.release()
    return statuses


def test_scale_out__rest_stow_and_cstore_at_once_give_each_study_one_result(
        transactional_db, s3_bucket, s3_server, tmp_path, hospital_a, make_user, phantom_series):
    if not connection.settings_dict["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL, Redis and S3: run the suite through tests/run.sh")
    s3 = settings.TRIAGE_S3
    base_env = _worker_env(connection.settings_dict["NAME"]) | {
        "TRIAGE_S3_BUCKET": s3["bucket"], "TRIAGE_S3_ENDPOINT": s3["endpoint_url"],
        "TRIAGE_S3_ACCESS_KEY": s3["access_key"], "TRIAGE_S3_SECRET_KEY": s3["secret_key"]}

    def env_for(name: str, **extra: str) -> dict[str, str]:
        # Each process its own local storage root: it must stay empty (no shared disk, S3 only).
        return base_env | {"TRIAGE_STORAGE_ROOT": str(tmp_path / name / "storage")} | extra

    uploader = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    _, key = create_api_token(actor=uploader, name="scale-out", hospital=hospital_a)
    create_dicom_node(actor=admin, hospital=hospital_a, ae_title=SENDER_AE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        series = [[p.read_bytes() for p in phantom_series(slices=10, size_px=64, seed=100 + i)] for i in range(7)]

    processes: list = []
    try:
        web_ports = [free_port(), free_port()]
        for n, port in enumerate(web_ports):
            processes.append(Process([sys.executable, "-m", "gunicorn", "triage.wsgi:application", "--bind",
                                      f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120"],
                                     env_for(f"web{n}"), tmp_path / f"web{n}.log"))
        scp_port = free_port()
        processes.append(Process([sys.executable, "manage.py", "dicom_scp", "--port", str(scp_port), "--ae-title", SCP_AE,
                                  "--idle-seconds", "2", "--spool-dir", str(tmp_path / "spool")],
                                 env_for("scp"), tmp_path / "scp.log"))
        # CPU workers take ingest and the analysis's CPU stages; gpu workers only the model.
        workers = [WorkerProcess(env_for(f"{kind}{n}", TRIAGE_PRELOAD_MODEL="1" if kind == "gpu" else "0"),
                                 tmp_path / f"{kind}{n}.log", queues=queues, name=f"{kind}{n}")
                   for n in range(2) for kind, queues in (("cpu", "ingest,prepare,finish"), ("gpu", "gpu"))]
        for worker in workers:
            worker.spawn()
            processes.append(worker)
        for worker in workers:
            worker.wait_ready(timeout_s=180)  # four at once on two cores
        for port, proc in zip([*web_ports, scp_port], processes[:3]):
            wait_for_port(port, proc)

        web = [f"http://127.0.0.1:{p}" for p in web_ports]
        sends = [lambda: rest_upload(web[0], key, hospital_a, series[0]), lambda: rest_upload(web[1], key, hospital_a, series[1]),
                 lambda: stow_upload(web[0], key, series[2]), lambda: stow_upload(web[1], key, series[3]),
                 lambda: cstore(scp_port, series[4]), lambda: cstore(scp_port, series[5]),
                 # The same study twice at once, through both routes and both servers.
                 lambda: rest_upload(web[0], key, hospital_a, series[6]), lambda: stow_upload(web[1], key, series[6])]
        outcomes: list = [None] * len(sends)

        def send(i: int) -> None:
            try:
                outcomes[i] = sends[i]()
            except Exception as exc:  # reported by the assertion below
                outcomes[i] = exc

        started = time.monotonic()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(sends))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(o in (200, 201, 202) or o == [0] * 10 for o in outcomes), outcomes

        sweep_every_s = settings.CELERY_BEAT_SCHEDULE["results-requeue-stuck-analyses"]["schedule"]
        next_sweep = [time.monotonic() + sweep_every_s]

        def beat() -> None:  # the sweeps, at beat's interval
            if time.monotonic() >= next_sweep[0]:
                next_sweep[0] += sweep_every_s
                sweep_all()

        wait_until(lambda: Study.objects.filter(status="ready").count() == 7, timeout_s=400, interval_s=1.0,
                   on_tick=beat)
        print(f"\n7 studies over REST, STOW and C-STORE ready in {time.monotonic() - started:.0f} s "
              "(2 web, 2 ingest, 2 gpu workers)")
    finally:
        for process in reversed(processes):
            process.stop()
    studies = Study.objects.all()
    assert len(studies) == 7 and {s.status for s in studies} == {"ready"}
    for study in studies:
        assert Result.objects.filter(study=study).count() == 1
        assert Result.objects.filter(study=study, is_current=True).count() == 1
    assert Instance.objects.count() == 70
    listing = s3_server.client().list_objects_v2(Bucket=s3_bucket, MaxKeys=1000)
    assert {o["Key"] for o in listing.get("Contents", [])} == referenced_store_keys()
    local = [p for p in tmp_path.glob("*/storage/**/*") if p.is_file()]
    assert local == [], local[:5]
    used_gpu = [n for n in range(2) if "results.analyse_study" in (tmp_path / f"gpu{n}.log").read_text()]
    assert used_gpu == [0, 1], "both gpu workers should have taken analyses"
