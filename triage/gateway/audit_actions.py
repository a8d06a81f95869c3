from django.db import models


class GatewayAction(models.TextChoices):
    """Audit actions of the DICOM gateway; values are stable and never renamed."""

    NODE_CREATED = "dicom_node.created"
    NODE_DEACTIVATED = "dicom_node.deactivated"
