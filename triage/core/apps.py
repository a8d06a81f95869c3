from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "triage.core"
    label = "core"
