from django.apps import AppConfig


class WorklistConfig(AppConfig):
    name = "triage.worklist"
    label = "worklist"
