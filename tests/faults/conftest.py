"""Fault-test fixtures: a worker on a private storage folder, PostgreSQL restarts, store invariants."""
import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import WorkerProcess, _worker_env, referenced_store_keys

TERMINAL = ("ready", "failed")


@pytest.fixture
def worker_lease_seconds() -> str:
    """The worker's TRIAGE_CLAIM_LEASE_SECONDS: shorter than production, so a dead worker's claim ends sooner."""
    return "20"


@pytest.fixture
def fault_worker(transactional_db, study_storage, tmp_path, worker_lease_seconds):
    """A real worker whose storage root is this test's own folder (so orphan checks see only our files)."""
    from django.db import connection

    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        pytest.skip("needs Redis: run the suite through tests/run.sh")
    env = _worker_env(connection.settings_dict["NAME"])
    env["TRIAGE_STORAGE_ROOT"] = str(study_storage)
    env["TRIAGE_CLAIM_LEASE_SECONDS"] = worker_lease_seconds
    drop_broker_connections()  # an earlier test may have restarted Redis under our pooled ones
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def drop_broker_connections() -> None:
    """Close this process's pooled Redis connections (dead after a Redis restart); new ones open lazily."""
    from kombu import pools

    from triage.celery import app

    pools.reset()  # closes every pooled connection and forgets the pools
    app._after_fork()  # what Celery does in a forked child: new pools on next use


class PostgresServer:
    """The suite's PostgreSQL (started by tests/run.sh), restarted for real with ``pg_ctl``."""

    def __init__(self, bin_dir: str, data_dir: str):
        self.bin_dir, self.data_dir = bin_dir, data_dir

    def _pg_ctl(self, *args: str) -> None:
        command = [f"{self.bin_dir}/pg_ctl", "-D", self.data_dir, *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        # -l: without a log file pg_ctl hands the server our pipe and run() would wait for it forever.
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast", "-w", "-l", f"{self.data_dir}/server.log")


@pytest.fixture
def postgres_server():
    if "TEST_PG_DATA" not in os.environ:
        pytest.skip("needs the PostgreSQL started by tests/run.sh")
    return PostgresServer(os.environ["TEST_PG_BIN"], os.environ["TEST_PG_DATA"])


def wait_until(predicate, *, timeout_s: float, interval_s: float = 0.25, on_tick=None):
    """Poll ``predicate`` until truthy; ``on_tick`` runs between polls (e.g. a sweep)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if on_tick is not None:
            on_tick()
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


def expire_claims(study_ids) -> None:
    """Age every unfinished study's lease and timestamps: what the clock does to a dead worker's claim."""
    from triage.studies.models import Study

    past = timezone.now() - timedelta(seconds=1)
    Study.objects.filter(id__in=study_ids).exclude(status__in=TERMINAL).update(
        lease_until=past, status_changed_at=past, last_instance_received_at=past)


def sweep_all() -> None:
    """Run the periodic sweeps now, with no grace period: re-enqueue every unclaimed unfinished study."""
    from triage.pipeline.services import requeue_stuck_analyses, requeue_stuck_studies
    from triage.studies.models import Study

    requeue_stuck_studies(status=Study.Status.RECEIVED, older_than=timedelta(0))
    requeue_stuck_studies(status=Study.Status.QUEUED, older_than=timedelta(0))
    requeue_stuck_analyses()


def assert_store_consistent(storage_root: Path, study_ids) -> None:
    """Each study is terminal with a reason or one current Result; files and rows match 1:1.

    A worker killed after putting its overlay images but before its rows committed leaves them
    unreferenced: the collector (run here with no grace period) must remove exactly those.
    """
    from triage.results.models import Result
    from triage.results.services import collect_unreferenced_overlays
    from triage.studies.models import Study

    for study in Study.objects.filter(id__in=study_ids):
        assert study.status in TERMINAL, (study.id, study.status)
        if study.status == "failed":
            assert study.failure_reason, study.id
        else:
            assert Result.objects.filter(study=study, is_current=True).count() == 1, study.id
            assert Result.objects.filter(study=study).count() == 1, study.id
    collect_unreferenced_overlays(now=timezone.now(), grace=timedelta(0))
    on_disk = {str(p.relative_to(storage_root)) for p in storage_root.rglob("*") if p.is_file()}
    referenced = referenced_store_keys()
    assert on_disk == referenced, {"orphan files": sorted(on_disk - referenced)[:5],
                                   "missing files": sorted(referenced - on_disk)[:5]}
