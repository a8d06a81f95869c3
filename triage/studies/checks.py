"""System checks of the studies app (B14): the study file storage must be usable."""
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
