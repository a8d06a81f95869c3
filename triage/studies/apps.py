from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "triage.studies"
    label = "studies"

    def ready(self):
        from triage.core.health import register_health_check
        from triage.studies import checks  # noqa: F401  (registers the system checks)
        from triage.core.object_store import storage_health

        register_health_check("storage", storage_health)
