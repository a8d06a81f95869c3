from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "triage.studies"
    label = "studies"

    def ready(self):
        from triage.studies import checks  # noqa: F401  (registers the system checks)
