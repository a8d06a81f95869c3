"""Benchmark ingestion against a plain file copy of the same bytes (a report, not a timed assert)."""
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings

from triage.accounts.models import Hospital
from triage.studies.models import Study
from triage.studies.services.ingest import ingest_study
from triage.studies.services.receiving import receive_instances
from triage.studies.uploads import IncomingFile


class Rollback(Exception):
    """Raised to undo the benchmark's rows."""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Command(BaseCommand):
    help = ("Ingest a phantom series (default 300 slices of 512²) into throw-away storage and a rolled-back "
            "transaction; print upload+ingest MB/s, its ratio to a plain copy of the same files, and peak RSS.")

    def add_arguments(self, parser):
        parser.add_argument("--slices", type=int, default=300)
        parser.add_argument("--size", type=int, default=512)

    def handle(self, *args, **options):
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            root = Path(tmp)
            # The phantom is generated in a child process so this process's peak RSS is the ingest's own.
            subprocess.run([sys.executable, "-m", "inference.phantom", "--out", str(root / "series"),
                            "--slices", str(options["slices"]), "--size", str(options["size"]), "--seed", "7"],
                           check=True, stdout=subprocess.DEVNULL)
            paths = sorted((root / "series").glob("*.dcm"))
            total_mb = sum(p.stat().st_size for p in paths) / 1024**2
            rss_before = peak_rss_mb()

            start = time.perf_counter()
            (root / "copy").mkdir()
            for p in paths:
                shutil.copyfile(p, root / "copy" / p.name)
            copy_s = time.perf_counter() - start

            storage = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                   "OPTIONS": {"location": str(root / "storage")}},
                       "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
            with override_settings(STORAGES=storage):
                receive_s, ingest_s = self._ingest(paths)
        total_s = receive_s + ingest_s
        ingest_mb_s, copy_mb_s = total_mb / total_s, total_mb / copy_s
        self.stdout.write(f"series: {len(paths)} slices of {options['size']}², {total_mb:.1f} MB")
        self.stdout.write(f"plain copy:        {copy_s:6.2f} s  {copy_mb_s:8.1f} MB/s")
        self.stdout.write(f"receive (parse, hash, store, rows): {receive_s:6.2f} s")
        self.stdout.write(f"ingest (decode all pixels, select, order): {ingest_s:6.2f} s")
        self.stdout.write(f"ingest total:      {total_s:6.2f} s  {ingest_mb_s:8.1f} MB/s  "
                          f"ratio to copy {ingest_mb_s / copy_mb_s:.2f} (target >= 0.3)")
        self.stdout.write(f"peak RSS: {peak_rss_mb():.0f} MB (before ingest {rss_before:.0f} MB)")

    def _ingest(self, paths: list[Path]) -> tuple[float, float]:
        timings = []
        try:
            with transaction.atomic():
                hospital = Hospital.objects.create(name="Benchmark (rolled back)", code="bench-rolled-back")
                with ExitStack() as stack:
                    files = [IncomingFile(name=p.name, stream=stack.enter_context(open(p, "rb"))) for p in paths]
                    start = time.perf_counter()
                    report = receive_instances(hospital=hospital, uploaded_by=None, files=files, source="demo")
                    timings.append(time.perf_counter() - start)
                start = time.perf_counter()
                study = ingest_study(study_id=Study.objects.get(uuid=report.studies[0]).id).study
                timings.append(time.perf_counter() - start)
                assert study is not None and study.status == Study.Status.QUEUED
                raise Rollback()
        except Rollback:
            pass
        return timings[0], timings[1]
