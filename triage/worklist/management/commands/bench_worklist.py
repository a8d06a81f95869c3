"""Benchmark the worklist API at scale and the slice endpoint, with a baseline from the same run.

``manage.py bench_worklist --studies 100000 --hospitals 20`` seeds studies and worklist rows with
``bulk_create`` under hospitals named ``bench-NN`` (removed again unless ``--keep``), runs
VACUUM ANALYZE on PostgreSQL, then prints p50/p95 of ``GET /api/worklist/`` (full DRF stack,
in-process client) for several users and filter combinations, next to a ``SELECT 1`` round trip
and a primary-key lookup, and the ratio. ``--slices`` also stores a phantom series and times the
slice endpoint against reading the stored file alone. Numbers are printed, never asserted.
"""
from __future__ import annotations

import io
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework.test import APIClient

from triage.accounts.models import Hospital, Membership, Role, User
from triage.audit.models import AuditEvent
from triage.studies.models import Study
from triage.worklist.models import WorklistEntry

LABELS = ["covid19", "pneumonia", "normal"]
BATCH = 5000
BENCH_HOSPITALS_SQL = "SELECT id FROM accounts_hospital WHERE code LIKE 'bench-%%'"


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def timed(fn, *, repeat: int) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


class Command(BaseCommand):
    help = "Seed N studies across H hospitals and print worklist API (and slice endpoint) latency percentiles."

    def add_arguments(self, parser):
        parser.add_argument("--studies", type=int, default=100_000)
        parser.add_argument("--hospitals", type=int, default=20)
        parser.add_argument("--repeat", type=int, default=200)
        parser.add_argument("--slices", type=int, default=0, help="Also benchmark the slice endpoint (phantom slices).")
        parser.add_argument("--size-px", type=int, default=512)
        parser.add_argument("--keep", action="store_true", help="Keep the seeded rows.")
        parser.add_argument("--reuse", action="store_true", help="Measure rows kept by an earlier --keep run.")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        rng = random.Random(options["seed"])
        now = timezone.now()
        kept = list(Hospital.objects.filter(code__startswith="bench-").order_by("code"))
        if options["reuse"] and kept:
            hospitals = kept
        else:
            hospitals = self.seed(rng=rng, now=now, studies=options["studies"], count=options["hospitals"])
        try:
            self.bench_worklist(hospitals=hospitals, repeat=options["repeat"])
            if options["slices"]:
                self.bench_slices(hospital=hospitals[0], slices=options["slices"], size_px=options["size_px"],
                                  repeat=max(1, options["repeat"] // options["slices"]))
        finally:
            if not options["keep"]:
                self.cleanup(hospitals)

    # --- seeding --------------------------------------------------------------------------
    def seed(self, *, rng: random.Random, now, studies: int, count: int) -> list[Hospital]:
        start = time.perf_counter()
        with transaction.atomic():
            hospitals = [Hospital.objects.create(name=f"bench-{i:02d}", code=f"bench-{i:02d}",
                                                 max_wait_minutes=rng.choice([30, 60, 60, 120]))
                         for i in range(count)]
            for offset in range(0, studies, BATCH):
                n = min(BATCH, studies - offset)
                batch = [Study(hospital=hospitals[(offset + i) % count], study_instance_uid=f"2.25.{offset + i}",
                               accession_number=f"BENCH{offset + i:07d}", patient_id=f"BP{(offset + i) // 2:07d}",
                               patient_age="060Y", patient_sex=rng.choice("MF"), status=Study.Status.READY)
                         for i in range(n)]
                Study.objects.bulk_create(batch)
                entries = []
                for study in batch:
                    age = timedelta(minutes=rng.uniform(0, 30 * 24 * 60))
                    status = rng.choices(["ready", "received", "processing", "failed"], [95, 2, 2, 1])[0]
                    analysed = status == "ready"
                    probability = rng.random() if analysed else None
                    entries.append(WorklistEntry(
                        study=study, hospital_id=study.hospital_id, status=status, received_at=now - age,
                        accession_number=study.accession_number, patient_id=study.patient_id,
                        covid_probability=probability, sort_probability=probability if analysed else -1.0,
                        predicted_label=rng.choice(LABELS) if analysed else "",
                        lesion_fraction_both=rng.random() * 0.5 if analysed else None,
                        severity_total=rng.randint(0, 25) if analysed else None,
                        # Most studies older than two days are signed; a backlog of 3 % is not.
                        reviewed=age > timedelta(days=2) and rng.random() > 0.03))
                WorklistEntry.objects.bulk_create(entries)
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE studies_study SET received_at = e.received_at, status = e.status FROM "
                    "worklist_worklistentry e WHERE e.study_id = studies_study.id AND e.status <> 'failed' AND "
                    f"studies_study.hospital_id IN ({BENCH_HOSPITALS_SQL})")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE worklist_worklistentry")
                cursor.execute("VACUUM ANALYZE studies_study")
        self.stdout.write(f"seeded {studies} studies across {count} hospitals in {time.perf_counter() - start:.1f} s "
                          f"({connection.vendor})")
        return hospitals

    def cleanup(self, hospitals: list[Hospital]) -> None:
        ids = [h.id for h in hospitals]
        with transaction.atomic():
            WorklistEntry.objects.filter(hospital_id__in=ids).delete()
            with connection.cursor() as cursor:  # skip per-row cascades: these studies have no children
                cursor.execute(f"DELETE FROM studies_study WHERE hospital_id IN ({BENCH_HOSPITALS_SQL}) AND id NOT IN "
                               "(SELECT study_id FROM studies_series)")
        # Hospitals with audit rows (the slice benchmark's study.viewed) stay: the audit log is append-only.
        audited = AuditEvent.objects.filter(hospital_id=OuterRef("pk"))
        Membership.objects.filter(hospital_id__in=ids).delete()
        Hospital.objects.filter(id__in=ids, studies__isnull=True).exclude(Exists(audited)).delete()

    # --- measuring ------------------------------------------------------------------------
    def user(self, name: str, hospitals: list[Hospital], *, admin: bool = False) -> User:
        user, _ = User.objects.get_or_create(username=name, defaults={"is_platform_admin": admin})
        for hospital in hospitals:
            Membership.objects.get_or_create(user=user, hospital=hospital, role=Role.RADIOLOGIST)
        return user

    def bench_worklist(self, *, hospitals: list[Hospital], repeat: int) -> None:
        one = self.user("bench-radiologist-1", hospitals[:1])
        three = self.user("bench-radiologist-3", hospitals[:3])
        admin = self.user("bench-platform-admin", [], admin=True)
        some_pk = Study.objects.filter(hospital=hospitals[0]).values_list("pk", flat=True).first()

        def select_one():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()

        base_select = percentiles(timed(select_one, repeat=repeat))
        base_pk = percentiles(timed(lambda: Study.objects.get(pk=some_pk), repeat=repeat))
        self.stdout.write(f"{'baseline SELECT 1':58s} p50 {base_select[0]:6.2f} ms  p95 {base_select[1]:6.2f} ms")
        self.stdout.write(f"{'baseline primary-key lookup (ORM)':58s} p50 {base_pk[0]:6.2f} ms  p95 {base_pk[1]:6.2f} ms")
        cases = [
            ("1 hospital, default (unreviewed)", one, ""),
            ("1 hospital, all incl. signed", one, "reviewed=all"),
            ("1 hospital, all, page 40", one, "reviewed=all&page=40"),
            ("3 hospitals, state=ready label=covid19", three, "state=ready&label=covid19"),
            ("3 hospitals, date range 7 days", three,
             f"reviewed=all&received_from={(timezone.now() - timedelta(days=7)).date()}"),
            ("platform admin (20 hospitals), default", admin, ""),
            ("platform admin, all incl. signed", admin, "reviewed=all"),
            ("platform admin, search accession", admin, "reviewed=all&q=BENCH0004242"),
        ]
        worst_p95 = 0.0
        for name, user, query in cases:
            client = APIClient()
            client.force_authenticate(user=user)

            def call():
                response = client.get(f"/api/worklist/?{query}")
                assert response.status_code == 200, response.content[:200]

            p50, p95 = percentiles(timed(call, repeat=repeat))
            worst_p95 = max(worst_p95, p95)
            self.stdout.write(f"GET /api/worklist/ {name:39s} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
                              f"(p50 = {p50 / base_pk[0]:.1f}x pk lookup)")
        self.stdout.write(f"worst worklist p95 {worst_p95:.2f} ms (target <= 50 ms); "
                          f"{worst_p95 / base_pk[1]:.1f}x the pk-lookup p95")

    def bench_slices(self, *, hospital: Hospital, slices: int, size_px: int, repeat: int) -> None:
        import pydicom

        from inference.phantom import write_phantom_series
        from triage.core import object_store
        from triage.studies import storage
        from triage.studies.models import Instance, Series
        from triage.worklist import imaging

        user = self.user("bench-radiologist-1", [hospital])
        with tempfile.TemporaryDirectory() as folder:
            write_phantom_series(Path(folder), slices=slices, size_px=size_px, severity="mild", seed=1)
            files = [p.read_bytes() for p in sorted(Path(folder).glob("*.dcm"))]
        study = Study.objects.create(hospital=hospital, study_instance_uid="2.25.999999999", status="ready")
        series = Series.objects.create(study=study, series_instance_uid="2.25.999999998", modality="CT",
                                       rows=size_px, columns=size_px, is_selected=True, slice_count=slices)
        paths = []
        for n, data in enumerate(files):
            digest = object_store.sha256_of(data)
            path, _ = storage.store_content(hospital_uuid=hospital.uuid, data=data, sha256=digest)
            paths.append(path)
            z = float(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).ImagePositionPatient[2])
            Instance.objects.create(series=series, sop_instance_uid=f"2.25.{n}", storage_path=path, sha256=digest,
                                    size_bytes=len(data), instance_number=n + 1, z_position_mm=z)
        client = APIClient()
        client.force_authenticate(user=user)
        url = f"/api/studies/{study.uuid}/slices/{{}}.png?wl=-600&ww=1500"

        def endpoint():
            for i in range(slices):
                assert client.get(url.format(i)).status_code == 200

        def read_only():
            for path in paths:
                object_store.read_content(path)

        def render_only():
            for path in paths:
                imaging.render_slice_png(object_store.read_content(path), level_hu=-600, width_hu=1500)

        for name, fn in [("read stored file only", read_only), ("read + decode + window + PNG", render_only),
                         ("GET slice endpoint (full stack)", endpoint)]:
            per_slice = [ms / slices for ms in timed(fn, repeat=repeat)]
            p50, p95 = percentiles(per_slice)
            self.stdout.write(f"{name:40s} {size_px}px: {p50:6.2f} ms/slice (p95 of passes {p95:6.2f}), "
                              f"{1000 / p50:7.0f} slices/s")
        try:
            object_store.delete_content(paths)
        finally:
            study.delete()
