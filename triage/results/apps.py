from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "triage.results"
    label = "results"

    def ready(self) -> None:
        from celery.signals import worker_process_init

        from triage.results import checks  # noqa: F401  (registers the system checks)

        from triage.results.engine import preload_active_model

        worker_process_init.connect(preload_active_model, weak=False)
