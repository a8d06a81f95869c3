from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "triage.exports"
    label = "exports"
    verbose_name = "Results back to the hospital (DICOM SR, SEG, key images)"
