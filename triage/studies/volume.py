"""Read a study's selected series back from the image store as one HU volume (for the analysis step)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from triage.core.exceptions import StorageOffline
from triage.core import object_store
from triage.studies.dicom_headers import is_decoder_failure
from triage.studies.exceptions import NO_SELECTED_SERIES_MSG, UNREADABLE_SERIES_MSG, UnreadableSeries
from triage.studies.models import Study
from triage.studies.selectors import ordered_slices

if TYPE_CHECKING:
    from inference.dicom_io import Volume


def read_selected_volume(*, study: Study) -> Volume:
    """Decode the study's ordered slices into a HU volume, in the order ingest stored (not sorted again).

    Raises :class:`UnreadableSeries` when no series is selected or the pixels cannot be read.
    """
    from pydicom import dcmread
    from pydicom.filebase import DicomBytesIO

    from inference.dicom_io import read_series

    if study.selected_series_id is None:
        raise UnreadableSeries(NO_SELECTED_SERIES_MSG)
    instances = list(ordered_slices(study=study).only("id", "storage_path", "z_position_mm"))
    try:
        return read_series([dcmread(DicomBytesIO(object_store.read_content(i.storage_path))) for i in instances],
                           positions_mm=[i.z_position_mm for i in instances])
    except StorageOffline:
        raise  # the store is down, the files are fine: the task retries
    except BaseException as exc:  # pydicom and the pixel decoders raise many types on corrupt data
        if not is_decoder_failure(exc):
            raise
        raise UnreadableSeries(UNREADABLE_SERIES_MSG.format(error=f"{type(exc).__name__}: {exc}"[:300])) from exc
