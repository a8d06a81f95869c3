from django.apps import AppConfig

# The senders whose change can make a study due: a new current AI result, a signed report or addendum.
TRIGGERING_SENDERS = ("results", "reports")


def _export_on_study_changed(sender, *, study, **kwargs) -> None:
    if sender in TRIGGERING_SENDERS:
        from triage.exports.services import export_after_commit

        export_after_commit(study_id=study.id)


def _result_objects(study):
    from triage.exports.objects import result_objects_for_dicomweb  # highdicom loads on the first read only

    return result_objects_for_dicomweb(study)


class ExportsConfig(AppConfig):
    name = "triage.exports"
    label = "exports"
    verbose_name = "Results back to the hospital (DICOM SR, SEG, key images)"

    def ready(self) -> None:
        from triage.core.signals import study_changed
        from triage.gateway.result_objects import register_result_object_provider

        # Send as soon as a result or sign-off commits, without results or reports knowing about
        # exports; the 30 s sweep stays the retry path (backoff, lost messages, a broker outage).
        study_changed.connect(_export_on_study_changed, weak=False, dispatch_uid="exports.export_study")
        # DICOMweb (gateway) serves the result objects beside the stored instances without importing exports.
        register_result_object_provider("exports", _result_objects)
