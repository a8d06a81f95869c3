"""DICOM nodes: the calling AE titles allowed to send studies by C-STORE, each mapped to one hospital.

AE title rules (PS3.5 6.2, VR "AE"): 1-16 characters of the default character repertoire,
no backslash and no control characters; leading and trailing spaces are not significant, so
titles are stored stripped and a title of only spaces is invalid. Titles are case-sensitive
(as the standard says) and unique across all hospitals: one calling AE title maps to exactly
one hospital, and a C-STORE association takes its hospital from that mapping only.

A node may also give where its own DICOM service listens (host and port, both or neither):
only for the admin's C-ECHO test; the SCP never uses them to decide anything.
"""
import re
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

AE_TITLE_MAX_CHARS = 16
AE_TITLE_PATTERN = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII except "\"
INVALID_AE_TITLE_MSG = ("An AE title is 1-16 printable ASCII characters without a backslash, "
                        "not only spaces, with no leading or trailing spaces.")


def validate_ae_title(value: str) -> None:
    if not AE_TITLE_PATTERN.match(value) or value != value.strip():
        raise ValidationError(INVALID_AE_TITLE_MSG, code="invalid_ae_title")


class DicomNode(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    hospital = models.ForeignKey("accounts.Hospital", on_delete=models.PROTECT, related_name="dicom_nodes")
    ae_title = models.CharField(max_length=AE_TITLE_MAX_CHARS, unique=True, validators=[validate_ae_title],
                                help_text="The sender's calling AE title.")
    description = models.CharField(max_length=200, blank=True)
    host = models.CharField(max_length=253, blank=True, help_text="Where the node answers C-ECHO (optional).")
    port = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ae_title"]
        constraints = [
            models.CheckConstraint(condition=~Q(ae_title=""), name="dicom_node_ae_title_not_empty"),
            models.CheckConstraint(condition=(Q(host="") & Q(port__isnull=True))
                                   | (~Q(host="") & Q(port__gte=1, port__lte=65535)),
                                   name="dicom_node_echo_address_whole"),
        ]

    def __str__(self) -> str:
        return f"{self.ae_title} → {self.hospital_id}"
