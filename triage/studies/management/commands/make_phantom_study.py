import json
from pathlib import Path

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Write a synthetic chest CT phantom as a DICOM series (plus phantom.json ground truth) to --out."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--slices", type=int, default=64)
        parser.add_argument("--size", type=int, default=256, help="rows = columns in pixels")
        parser.add_argument("--severity", choices=["none", "mild", "moderate", "severe"], default="moderate")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        from inference.phantom import write_phantom_series

        info = write_phantom_series(options["out"], slices=options["slices"], size_px=options["size"],
                                    severity=options["severity"], seed=options["seed"])
        self.stdout.write(json.dumps({"out": str(options["out"]), "files": len(info.files),
                                      "severity": info.severity, "lesion_ml": info.lesion_ml}))
