from django.core.management.base import BaseCommand

from triage.pipeline.demo import DEMO_PHANTOM_SIZE_PX, DEMO_PHANTOM_SLICES, seed_demo_studies


class Command(BaseCommand):
    help = ("Upload demo CT studies (phantoms of each severity, plus the real Lung_Dx-A0002 series "
            "shipped in triage/pipeline/demo_data) to each demo hospital through the normal ingest path. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--slices", type=int, default=DEMO_PHANTOM_SLICES)
        parser.add_argument("--size", type=int, default=DEMO_PHANTOM_SIZE_PX)

    def handle(self, *args, **options):
        reports = seed_demo_studies(slices=options["slices"], size_px=options["size"])
        if not reports:
            self.stdout.write("Demo studies: nothing new (run seed_demo first, or all are present).")
        for hospital, report in reports:
            self.stdout.write(f"  {hospital.code}: {report.count('accepted')} accepted, "
                              f"{report.count('duplicate')} duplicate, {report.count('rejected')} rejected"
                              + (f" ({report.note})" if report.note else ""))
