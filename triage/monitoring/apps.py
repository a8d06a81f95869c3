from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "triage.monitoring"
    label = "monitoring"
