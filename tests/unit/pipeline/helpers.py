"""Run a study's analysis in the test process."""
from triage.pipeline import services


def analyse_in_process(*, study_id: int):
    """Run the three analysis stages one after the other here, as the prepare, gpu and finish workers would."""
    result = services.analyse_study(study_id=study_id)
    for stage in (services.classify_study, services.finish_study):
        result = stage(study_id=study_id) or result
    return result
