"""The inference engine of a worker process: the model is loaded once per process.

Only worker processes import this module's loader; the web process never calls it, so it
never imports TensorFlow (a test checks that).
"""
import logging
import os

logger = logging.getLogger(__name__)

_loaded: dict[str, object] = {}
MODELS_PER_PROCESS = 2  # the active model and one shadow candidate


def loaded_model(reference: str):
    """Return the ``inference.registry.LoadedModel`` for ``<name>/<version>``, loading it on first use."""
    if reference not in _loaded:
        from inference.registry import load_model

        while len(_loaded) >= MODELS_PER_PROCESS:  # the least recently loaded goes (a replaced active version)
            _loaded.pop(next(iter(_loaded)))
        _loaded[reference] = load_model(reference)
        logger.info("inference.model_loaded", extra={"model": reference, "pid": os.getpid()})
    return _loaded[reference]


def preload_active_model(**_signal_kwargs) -> None:
    """Load the active model when a worker process starts (``worker_process_init``)."""
    if os.environ.get("TRIAGE_PRELOAD_MODEL", "1") != "1":
        return
    from django.db import close_old_connections

    from triage.results.services import ensure_active_model_version

    try:
        loaded_model(ensure_active_model_version().reference)
    except Exception:  # the first task retries the load and fails its study with the reason
        logger.exception("inference.preload_failed")
    finally:
        close_old_connections()  # a forked child must not share the parent's DB connection
