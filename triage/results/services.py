import logging

logger = logging.getLogger(__name__)


def analyse_study(*, study_id: int) -> None:
    """Placeholder until the inference pipeline lands: only records that the hand-off arrived."""
    logger.info("inference.received", extra={"study_id": study_id})
