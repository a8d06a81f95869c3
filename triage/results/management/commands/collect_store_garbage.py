"""Delete overlay images in the object store that no row names, once older than the grace period."""
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from triage.core.object_store import COLLECT_GRACE
from triage.results.services import collect_unreferenced_overlays


class Command(BaseCommand):
    help = ("Delete overlay images (overlays/ in the object store) that no overlay row names and that are older "
            "than the grace period; younger ones may be writes whose rows have not committed yet.")

    def add_arguments(self, parser):
        parser.add_argument("--grace-hours", type=float, default=COLLECT_GRACE.total_seconds() / 3600,
                            help="Keep unreferenced objects younger than this (default %(default)s h).")

    def handle(self, *args, grace_hours: float, **options):
        deleted = collect_unreferenced_overlays(now=timezone.now(), grace=timedelta(hours=grace_hours))
        self.stdout.write(f"deleted {deleted} unreferenced overlay images")
