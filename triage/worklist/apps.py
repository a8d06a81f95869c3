from django.apps import AppConfig


def _refresh_on_study_changed(sender, *, study, **kwargs) -> None:
    from triage.worklist.services import refresh_worklist_entry

    refresh_worklist_entry(study=study)


class WorklistConfig(AppConfig):
    name = "triage.worklist"
    label = "worklist"

    def ready(self) -> None:
        from triage.core.signals import study_changed

        # The worklist is a read model above studies, results and reports: they announce a
        # change, this keeps the row current in the same transaction.
        study_changed.connect(_refresh_on_study_changed, weak=False, dispatch_uid="worklist.refresh_entry")
