from django.db import models


class GatewayAction(models.TextChoices):
    """Audit actions of the DICOM gateway; values are stable and never renamed."""

    NODE_CREATED = "dicom_node.created"
    NODE_DEACTIVATED = "dicom_node.deactivated"
    NODE_ECHO_ADDRESS_SET = "dicom_node.echo_address_set"
    NODE_ECHOED = "dicom_node.echoed"
