"""``manage.py export_training_set --hospital CODE --user USERNAME [--label pcr|radiologist] --out DIR``."""
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from triage.accounts.models import Hospital, User
from triage.core.exceptions import DomainError
from triage.monitoring.training_export import LabelSource, export_training_set


class Command(BaseCommand):
    help = ("Write a hospital's studies with a definite label as a de-identified training folder "
            "(DICOM series + labels.csv) for python -m inference.train_volume / inference.train.")

    def add_arguments(self, parser):
        parser.add_argument("--hospital", required=True, help="hospital code")
        parser.add_argument("--user", required=True, help="username of the admin exporting (audited)")
        parser.add_argument("--label", choices=LabelSource.values, default=LabelSource.PCR)
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, hospital: str, user: str, label: str, out: Path, **options):
        actor = User.objects.filter(username=user, is_active=True).first()
        target = Hospital.objects.filter(code=hospital).first()
        if actor is None:
            raise CommandError(f"No active user {user!r}.")
        if target is None:
            raise CommandError(f"No hospital with code {hospital!r}.")
        try:
            export = export_training_set(user=actor, hospital=target, label_source=label, out=out)
        except (PermissionDenied, DomainError) as error:
            raise CommandError(str(getattr(error, "message", error))) from error
        skipped = ", ".join(f"{n} {reason}" for reason, n in export.skipped.items()) or "none"
        self.stdout.write(f"{export.studies} studies written to {export.folder} (skipped: {skipped})")
