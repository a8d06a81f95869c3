from django.db import models


class ResultAction(models.TextChoices):
    RESULT_CREATED = "result.created"
    MODEL_REGISTERED = "model.registered"
    MODEL_ACTIVATED = "model.activated"
    REANALYSIS_REQUESTED = "result.reanalysis_requested"
    CANDIDATE_MARKED = "model.candidate_marked"
    CANDIDATE_PROMOTED = "model.candidate_promoted"
    CANDIDATE_ENDED = "model.candidate_ended"
