"""Reads of DICOM nodes and of the hospital a DICOMweb or C-STORE sender stores into."""
from uuid import UUID

from django.db.models import QuerySet

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, UPLOAD_ROLES, require_role
from triage.core.exceptions import NotFound
from triage.gateway.exceptions import TokenNotBoundToHospital
from triage.gateway.models import DicomNode

# Never a valid AE title (a backslash): keeps pynetdicom's "require a calling AE" check on
# even when no node is active, because an empty list there would mean "accept everyone".
NO_ACTIVE_NODE_SENTINEL = "\\"


def dicom_node_list(*, user: User, hospital: Hospital) -> QuerySet[DicomNode]:
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return DicomNode.objects.filter(hospital=hospital).order_by("ae_title")


def dicom_node_get(*, user: User, hospital: Hospital, node_uuid: UUID) -> DicomNode:
    node = dicom_node_list(user=user, hospital=hospital).filter(uuid=node_uuid).first()
    if node is None:
        raise NotFound()
    return node


def active_node_for_ae_title(*, ae_title: str) -> DicomNode | None:
    """Return the active node of a calling AE title (system read for the C-STORE SCP), or ``None``."""
    return DicomNode.objects.select_related("hospital").filter(ae_title=ae_title.strip(), is_active=True).first()


def active_ae_titles() -> list[str]:
    """Return the calling AE titles allowed to associate; never empty (see the sentinel)."""
    titles = list(DicomNode.objects.filter(is_active=True).values_list("ae_title", flat=True))
    return titles or [NO_ACTIVE_NODE_SENTINEL]


def stow_hospital_for(*, user: User) -> Hospital:
    """Return the hospital of the caller's token; it must be bound to one where the user may upload.

    DICOMweb never takes the hospital from the URL or the instances: only
    ``user.token_hospital_id`` (set by token authentication) counts.
    """
    hospital_id = getattr(user, "token_hospital_id", None)
    if hospital_id is None:
        raise TokenNotBoundToHospital()
    hospital = Hospital.objects.get(id=hospital_id)
    require_role(user=user, hospital=hospital, roles=UPLOAD_ROLES)
    return hospital
