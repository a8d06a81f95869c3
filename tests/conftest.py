"""Shared fixtures: hospitals, users per role, API clients, and a real Celery worker."""
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


@pytest.fixture
def make_hospital(db):
    from triage.accounts.models import Hospital

    def make(**fields) -> Hospital:
        n = next(_counter)
        fields.setdefault("name", f"Hospital {n}")
        fields.setdefault("code", f"h{n}")
        return Hospital.objects.create(**fields)

    return make


@pytest.fixture
def make_user(db):
    from triage.accounts.models import Membership, User

    def make(*, hospital=None, role: str | None = None, is_platform_admin: bool = False, username: str | None = None):
        user = User.objects.create_user(
            username=username or f"user{next(_counter)}", password=TEST_PASSWORD, is_platform_admin=is_platform_admin
        )
        if hospital is not None and role is not None:
            Membership.objects.create(user=user, hospital=hospital, role=role)
        return user

    return make


@pytest.fixture
def hospital_a(make_hospital):
    return make_hospital(name="Hospital A", code="a")


@pytest.fixture
def hospital_b(make_hospital):
    return make_hospital(name="Hospital B", code="b")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are created per test; the default PBKDF2 hasher would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _ingest_without_stable_wait(settings):
    """Tests hand a study over whole and ingest it at once; tests of the stable age set their own."""
    settings.STUDY_STABLE_AGE_S = 0


@pytest.fixture
def radiologist(hospital_a, make_user):
    return make_user(hospital=hospital_a, role="radiologist")


@pytest.fixture
def radiologist_b(hospital_b, make_user):
    return make_user(hospital=hospital_b, role="radiologist")


@pytest.fixture
def clinician(hospital_a, make_user):
    return make_user(hospital=hospital_a, role="clinician")


@pytest.fixture
def admin_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role="admin")


@pytest.fixture
def admin_b(hospital_b, make_user):
    return make_user(hospital=hospital_b, role="admin")


@pytest.fixture
def platform_admin(make_user):
    return make_user(is_platform_admin=True)


@pytest.fixture
def api_client_for():
    from rest_framework.test import APIClient

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


def _worker_env(database_name: str) -> dict[str, str]:
    import dj_database_url

    env = dict(os.environ)
    url = dj_database_url.parse(os.environ["DATABASE_URL"])
    env["DATABASE_URL"] = (
        f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{database_name}"
    )
    env["DJANGO_SETTINGS_MODULE"] = "triage.settings"
    env.setdefault("TRIAGE_STABLE_AGE_SECONDS", "0")  # as in-process tests: a study is ingested at once
    return env


class WorkerProcess:
    """A real ``celery worker`` subprocess consuming every queue (or ``queues``) against the test database."""

    def __init__(self, env: dict[str, str], log_path: Path, *, queues: str | None = None, name: str = "test"):
        from django.conf import settings

        self.env, self.log_path, self.proc, self.queues = env, log_path, None, queues or settings.TRIAGE_ALL_QUEUES
        self.hostname = f"{name}-{os.getpid()}@{socket.gethostname()}"

    def start(self, *, timeout_s: float = 90.0) -> None:
        self.spawn()
        self.wait_ready(timeout_s=timeout_s)

    def spawn(self) -> None:
        """Start the process without waiting: workers spawned together load TensorFlow side by side."""
        self.log = open(self.log_path, "ab")
        self.process_log_start = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "triage", "worker", "--queues", self.queues,
             "--concurrency", "1", "--loglevel", "INFO", "--hostname", self.hostname],
            cwd=REPO_ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, *, timeout_s: float = 90.0) -> None:
        """Wait until the worker answers a ping (its pool process has loaded the model by then)."""
        from triage.celery import app

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; log: {self.log_path.read_text()[-3000:]}")
            if app.control.inspect(timeout=1.0, destination=[self.hostname]).ping():
                return
        raise RuntimeError(f"worker did not answer within {timeout_s}s; log: {self.log_path.read_text()[-3000:]}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, *, since: int = 0) -> str:
        """The worker log from byte ``since`` on (``process_log_start``: this process's own lines)."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def wait_idle(self, *, timeout_s: float = 120.0) -> None:
        """Drop the messages still queued and wait until the worker runs and holds none (a test is over)."""
        from triage.celery import app

        app.control.purge()
        deadline = time.monotonic() + timeout_s
        inspect = app.control.inspect(timeout=1.0, destination=[self.hostname])
        while time.monotonic() < deadline:
            active, reserved = inspect.active() or {}, inspect.reserved() or {}
            if self.hostname in active and not active[self.hostname] and not reserved.get(self.hostname):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker still busy after {timeout_s}s")

    def kill(self) -> None:
        """SIGKILL the whole worker process group, as a crash or OOM kill would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # TERM to the main process only: signals sent to pool processes can hang the shutdown.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


_shared_workers: list[WorkerProcess] = []  # the session's shared worker, once a test has asked for it


@pytest.fixture(scope="session")
def shared_celery_worker(django_db_setup, tmp_path_factory):
    """One real worker shared by consecutive tests that ask for it: a start costs seconds of CPU (Django,
    TensorFlow, the model), which tests that only use the worker need not pay each."""
    from django.db import connection

    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        pytest.skip("needs Redis: run the suite through tests/run.sh")
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = WorkerProcess(_worker_env(connection.settings_dict["NAME"]), log_path)
    _shared_workers.append(worker)
    yield worker
    if worker.running:
        worker.stop()


@pytest.fixture
def celery_worker_process(transactional_db, shared_celery_worker):
    """The shared real worker (needs PostgreSQL and Redis from tests/run.sh), idle and running at the start.

    A test may kill, stop and start it; ``log_text(since=test_log_start)`` reads this test's lines only.
    After the test nothing is left queued or running, so the next test starts as with a new worker.
    """
    worker = shared_celery_worker
    if not worker.running:
        worker.start()
    worker.test_log_start = worker.log_path.stat().st_size
    yield worker
    try:
        if worker.running:
            worker.wait_idle()
    except Exception:  # e.g. a broker restarted under our pooled connections: a fresh worker is clean
        worker.stop()


@pytest.fixture(autouse=True)
def _shared_worker_only_where_asked(request):
    """Stop the shared worker before a test that did not ask for it: no worker then consumes our
    broker behind that test's back (its own workers, a "no worker" check, messages left queued)."""
    if "celery_worker_process" not in request.fixturenames:
        for worker in _shared_workers:
            if worker.running:
                worker.stop()


# --- Studies (ingestion) -----------------------------------------------------------------


@pytest.fixture
def study_storage(settings, tmp_path):
    """Point Django's default storage at a throw-away folder; return that folder."""
    root = tmp_path / "storage"
    settings.STORAGES = settings.STORAGES | {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(root), "base_url": None}}}
    return root


def referenced_store_keys() -> set[str]:
    """Every object-store key a row names: study files (Instance) and overlay images (Overlay)."""
    from triage.results.models import Overlay
    from triage.studies.models import Instance

    keys = set(Instance.objects.values_list("storage_path", flat=True))
    for png_key, heatmap_key in Overlay.objects.values_list("png_key", "heatmap_key"):
        keys |= {png_key} | ({heatmap_key} if heatmap_key else set())
    return keys


@pytest.fixture
def phantom_series(tmp_path):
    """Write a small phantom CT series with inference.phantom; return the sorted .dcm paths."""
    from inference.phantom import write_phantom_series

    def make(*, slices: int = 12, size_px: int = 64, severity: str = "mild", seed: int = 0, **ids) -> list[Path]:
        out = tmp_path / f"phantom-{next(_counter)}"
        write_phantom_series(out, slices=slices, size_px=size_px, severity=severity, seed=seed, **ids)
        return sorted(out.glob("*.dcm"))

    return make


# --- Services (fault tests) --------------------------------------------------------------


class RedisServer:
    """The suite's Redis (started by tests/run.sh), stopped and started again for real."""

    def __init__(self, port: str, directory: str):
        self.port, self.directory = port, directory

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", self.port, "shutdown", "nosave"], capture_output=True, timeout=30)

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "yes", "--dir", self.directory, "--logfile", f"{self.directory}/redis.log",
             "--pidfile", f"{self.directory}/redis.pid"], check=True, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if subprocess.run(["redis-cli", "-p", self.port, "ping"], capture_output=True, text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.2)
        raise RuntimeError("Redis did not come back")


@pytest.fixture
def redis_server():
    """Yield the suite's Redis for a fault test; it is running again afterwards whatever happened."""
    if "TEST_REDIS_PORT" not in os.environ:
        pytest.skip("needs the Redis started by tests/run.sh")
    server = RedisServer(os.environ["TEST_REDIS_PORT"], os.environ["TEST_SERVICES_DIR"])
    yield server
    server.start()  # harmless when it already runs: a second server on the port exits at once


# --- Object storage (S3) -----------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server():
    """The suite's SeaweedFS (started by tests/run.sh); fault tests stop and start it."""
    from tests.s3server import S3Server

    if "TEST_S3_DIR" not in os.environ:
        pytest.skip("needs the SeaweedFS started by tests/run.sh")
    return S3Server(Path(os.environ["TEST_S3_DIR"]))


def s3_settings(server, bucket: str) -> dict[str, str]:
    """Return the ``TRIAGE_S3`` settings (and environment) that select ``bucket`` on ``server``."""
    from tests.s3server import ACCESS_KEY, SECRET_KEY

    return {"bucket": bucket, "endpoint_url": server.endpoint, "region": "us-east-1",
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}


@pytest.fixture
def s3_bucket(s3_server, settings):
    """Point study storage at a fresh bucket of the suite's S3 store; return the bucket name."""
    bucket = s3_server.create_bucket(f"test-{uuid.uuid4().hex[:16]}")
    settings.TRIAGE_S3 = s3_settings(s3_server, bucket)
    yield bucket
    try:
        s3_server.delete_bucket(bucket)
    except Exception:  # a fault test may leave the store stopped; its slots go with the run
        pass


@pytest.fixture(params=["filesystem", "s3"])
def any_study_store(request, study_storage):
    """Run the test once on local disk and once on the S3 store; return the backend's name."""
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
    return request.param


# --- Peers: a real Orthanc as the hospital's PACS ------------------------------------------


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """One Orthanc for the session (free loopback ports, a temp config); tests clear it before use."""
    from tests import orthanc as peer

    if reason := peer.missing():
        pytest.skip(reason)
    server = peer.start(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()
