"""System checks of the studies app (B14): the study file storage must be usable, the stable age sane."""
import os

from django.core.checks import Error, register


@register()
def check_study_storage(app_configs=None, **kwargs):
    """studies.E001: the default storage folder exists or can be created; studies.E002: it is writable."""
    from django.core.files.storage import default_storage

    location = getattr(default_storage, "location", None)
    if location is None:
        return []
    try:
        os.makedirs(location, exist_ok=True)
    except OSError as exc:
        return [Error(f"Study storage folder cannot be created: {location} ({exc.strerror})", id="studies.E001")]
    if not os.access(location, os.W_OK):
        return [Error(f"Study storage folder is not writable: {location}", id="studies.E002")]
    return []


@register()
def check_stable_age(app_configs=None, **kwargs):
    """studies.E003: the stable age is not negative; studies.E004: eager tasks need no stable age."""
    from django.conf import settings

    if settings.STUDY_STABLE_AGE_S < 0:
        return [Error(f"TRIAGE_STABLE_AGE_SECONDS must be 0 or more, not {settings.STUDY_STABLE_AGE_S}.",
                      id="studies.E003")]
    if settings.CELERY_TASK_ALWAYS_EAGER and settings.STUDY_STABLE_AGE_S:
        # An eager task ignores its countdown: an ingest that waits for stability would call itself at once, forever.
        return [Error("CELERY_TASK_ALWAYS_EAGER ignores the ingest delay: set TRIAGE_STABLE_AGE_SECONDS=0 too.",
                      id="studies.E004")]
    return []
