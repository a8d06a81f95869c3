from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "triage.studies"
    label = "studies"
