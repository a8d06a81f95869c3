"""``manage.py dicom_scp``: run the C-STORE SCP until SIGINT/SIGTERM (rules: triage.gateway.scp)."""
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from triage.gateway.models import validate_ae_title
from triage.gateway.scp import StoreScp


class Command(BaseCommand):
    help = ("Receive CT instances by DICOM C-STORE from registered DICOM nodes (calling AE title → hospital); "
            "hand each study to ingestion on association release or after --idle-seconds without instances.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=11112)
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default: loopback only).")
        parser.add_argument("--ae-title", default="CTTRIAGE", help="Our AE title; the called AE title must match it.")
        parser.add_argument("--idle-seconds", type=float, default=10.0,
                            help="Hand a study off after this long without new instances (default 10).")
        parser.add_argument("--spool-dir", type=Path, default=None,
                            help="Where received instances wait for hand-off (default: <var>/cstore-spool).")

    def handle(self, *args, port, host, ae_title, idle_seconds, spool_dir, **options):
        try:
            validate_ae_title(ae_title)
        except Exception as exc:
            raise CommandError(f"--ae-title: {exc}") from exc
        if idle_seconds <= 0:
            raise CommandError("--idle-seconds must be positive.")
        scp = StoreScp(host=host, port=port, ae_title=ae_title, idle_seconds=idle_seconds,
                       spool_dir=spool_dir or Path(settings.VAR_DIR) / "cstore-spool")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        bound_host, bound_port = scp.start()
        self.stdout.write(f"C-STORE SCP {ae_title} listening on {bound_host}:{bound_port}", ending="\n")
        self.stdout.flush()
        stop.wait()
        scp.stop()
        self.stdout.write("C-STORE SCP stopped; buffered studies handed off.")
