from django.core.management.base import BaseCommand, CommandError

from triage.pipeline.services import activate_model_version


class Command(BaseCommand):
    help = ("Register a model from inference/weights (<name>/<version>), make it the active model and, "
            "with --reanalyse, re-queue every ready study for the new model (earlier results are kept).")

    def add_arguments(self, parser):
        parser.add_argument("reference", help="<name>/<version>, e.g. covidnet-ct-s/1.0.0")
        parser.add_argument("--reanalyse", action="store_true")

    def handle(self, *args, reference: str, reanalyse: bool, **options):
        from inference.registry import ModelNotFoundError

        try:
            version = activate_model_version(actor=None, reference=reference, reanalyse=reanalyse)
        except ModelNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Active model: {version.reference} (sha256 {version.weights_sha256[:12]}…)"))
