"""Benchmark the whole platform path: upload → ingest worker → gpu worker → ready.

Starts its own Celery worker process on the configured database and broker, uploads N phantom
studies through the ingest service (the path every upload takes), and prints upload-to-ready
latency p50/p95, studies per minute, and the worker's peak resident memory (VmHWM of the worker
and its pool processes). Run it on PostgreSQL + Redis with
``bash tests/run.sh tests/benchmarks/bench_pipeline.py -s`` or against any configured deployment.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from triage.accounts.models import Hospital
from triage.studies.models import Study
from triage.pipeline.services import receive_upload
from triage.studies.uploads import IncomingFile


def peak_rss_mb(root_pid: int) -> float:
    """Return the largest VmHWM (peak resident set) among ``root_pid`` and its children, in MB."""
    peak_kb = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        if (pid == root_pid or ppid == root_pid) and "VmHWM" in fields:
            peak_kb = max(peak_kb, int(fields["VmHWM"].split()[0]))
    return peak_kb / 1024


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--studies", type=int, default=10)
        parser.add_argument("--slices", type=int, default=64)
        parser.add_argument("--size", type=int, default=256, help="rows = columns of each slice")
        parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for every study")

    def handle(self, *args, studies: int, slices: int, size: int, timeout: float, **options):
        from inference.phantom import write_phantom_series

        hospital, _ = Hospital.objects.get_or_create(code="bench", defaults={"name": "Benchmark Hospital"})
        # The worker checks stability against the same stable age this process delays its messages by.
        env = os.environ | {"DATABASE_URL": self._database_url(),
                            "TRIAGE_STABLE_AGE_SECONDS": str(settings.STUDY_STABLE_AGE_S)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "triage", "worker", "--queues", settings.TRIAGE_ALL_QUEUES, "--concurrency", "1",
             "--loglevel", "WARNING", "--hostname", f"bench-{os.getpid()}@%h"],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_for_worker(worker)
            with tempfile.TemporaryDirectory() as folder:
                series = []
                for i in range(studies):
                    out = Path(folder) / f"s{i}"
                    write_phantom_series(out, slices=slices, size_px=size, severity=("mild", "moderate", "severe")[i % 3],
                                         seed=1000 + i)
                    series.append(sorted(out.glob("*.dcm")))
                self.stdout.write(f"{studies} phantom studies of {slices} slices at {size}px written; uploading")
                started = time.perf_counter()
                uploaded_at = dict(self._upload(hospital, paths) for paths in series)
                ids = list(uploaded_at)
                finished_at = self._wait_until_done(ids, timeout=timeout)
            elapsed = time.perf_counter() - started
            rss = peak_rss_mb(worker.pid)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
        failed = Study.objects.filter(id__in=ids, status=Study.Status.FAILED).count()
        latency = np.asarray([finished_at[i] - uploaded_at[i] for i in ids])
        self.stdout.write(
            f"studies: {studies} ({failed} failed)\n"
            f"upload→ready latency: p50 {np.percentile(latency, 50):.1f} s, p95 {np.percentile(latency, 95):.1f} s\n"
            f"throughput: {studies / elapsed * 60:.1f} studies/min ({studies * slices / elapsed:.1f} slices/s)\n"
            f"worker peak RSS: {rss:.0f} MB (largest process of the worker)")

    @staticmethod
    def _database_url() -> str:
        from django.db import connection

        db = connection.settings_dict
        if connection.vendor == "sqlite":
            return f"sqlite:///{db['NAME']}"
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    @staticmethod
    def _wait_for_worker(worker: subprocess.Popen, timeout_s: float = 120.0) -> None:
        from triage.celery import app

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise CommandError("the benchmark worker exited at start")
            if app.control.inspect(timeout=1.0).ping():
                return
        raise CommandError("the benchmark worker did not start")

    @staticmethod
    def _upload(hospital: Hospital, paths: list[Path]) -> tuple[int, float]:
        """Upload one series; return its study id and the time the upload finished."""
        handles = [p.open("rb") for p in paths]
        try:
            report = receive_upload(hospital=hospital, uploaded_by=None, source=Study.Source.API,
                                       files=[IncomingFile(p.name, h) for p, h in zip(paths, handles)])
        finally:
            for handle in handles:
                handle.close()
        return Study.objects.get(uuid=report.studies[0]).id, time.perf_counter()

    @staticmethod
    def _wait_until_done(ids: list[int], *, timeout: float) -> dict[int, float]:
        """Poll until every study is ready or failed; return the time each one finished."""
        done: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(ids):
            if time.monotonic() > deadline:
                raise CommandError(f"{len(ids) - len(done)} studies not finished after {timeout:.0f} s")
            finished = Study.objects.filter(id__in=ids, status__in=[Study.Status.READY, Study.Status.FAILED])
            for study_id in finished.values_list("id", flat=True):
                done.setdefault(study_id, time.perf_counter())
            time.sleep(0.2)
        return done
