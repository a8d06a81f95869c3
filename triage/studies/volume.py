"""Read a study's selected series back from the image store as one HU volume (for the analysis step)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from triage.studies import storage
from triage.studies.dicom_headers import is_decoder_failure
from triage.studies.exceptions import NO_SELECTED_SERIES_MSG, UNREADABLE_SERIES_MSG, UnreadableSeries
from triage.studies.models import Instance, Study

if TYPE_CHECKING:
    from inference.dicom_io import Volume


def selected_instances(study: Study) -> list[Instance]:
    """Return the decodable instances of the selected series in the order ingest stored (z, then number)."""
    if study.selected_series_id is None:
        raise UnreadableSeries(NO_SELECTED_SERIES_MSG)
    return list(Instance.objects.filter(series_id=study.selected_series_id, decode_error="")
                .order_by("z_position_mm", "instance_number", "id"))


def read_selected_volume(*, study: Study) -> Volume:
    """Decode the selected series into a HU volume; :class:`UnreadableSeries` when the pixels cannot be read."""
    from pydicom import dcmread
    from pydicom.filebase import DicomBytesIO

    from inference.dicom_io import read_series

    instances = selected_instances(study)
    try:
        return read_series([dcmread(DicomBytesIO(storage.read_content(i.storage_path))) for i in instances])
    except BaseException as exc:  # pydicom and the pixel decoders raise many types on corrupt data
        if not is_decoder_failure(exc):
            raise
        raise UnreadableSeries(UNREADABLE_SERIES_MSG.format(error=f"{type(exc).__name__}: {exc}"[:300])) from exc
