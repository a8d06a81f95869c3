from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "triage.results"
    label = "results"
