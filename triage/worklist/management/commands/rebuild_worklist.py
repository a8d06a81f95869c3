"""Write the worklist row of every study (backfill after deploying the app, or repair)."""
from django.core.management.base import BaseCommand

from triage.studies.models import Study
from triage.worklist.services import refresh_worklist_entries


class Command(BaseCommand):
    help = "Refresh the worklist row of every study (or of studies missing one with --missing)."

    def add_arguments(self, parser):
        parser.add_argument("--missing", action="store_true", help="Only studies without a worklist row.")

    def handle(self, *args, **options):
        studies = Study.objects.only("pk").order_by("pk")
        if options["missing"]:
            studies = studies.filter(worklist_entry__isnull=True)
        count = refresh_worklist_entries(studies=studies.iterator(chunk_size=1000))
        self.stdout.write(f"refreshed {count} worklist rows")
