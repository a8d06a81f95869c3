"""Narrow errors of the DICOM gateway; messages are constants and never contain patient data."""
from triage.core.exceptions import DomainError

TOKEN_NOT_BOUND_MSG = ("DICOMweb needs an API token bound to one hospital (Authorization: Token <key>); "
                       "this token is not bound to a hospital. Create a token for the hospital that sends.")
UNSUPPORTED_MEDIA_TYPE_MSG = 'STOW-RS accepts only Content-Type: multipart/related; type="application/dicom".'
MALFORMED_MULTIPART_MSG = "The multipart/related body is malformed: {detail}."
MALFORMED_CHUNKED_MSG = "The chunked request body is malformed: {detail}."
NO_PARTS_MSG = "The multipart/related body holds no parts."
AE_TITLE_TAKEN_MSG = "This AE title is already registered (AE titles are unique across hospitals)."


class TokenNotBoundToHospital(DomainError):
    def __init__(self):
        super().__init__(TOKEN_NOT_BOUND_MSG)


class UnsupportedMediaType(DomainError):
    status_code = 415

    def __init__(self, *, content_type: str):
        super().__init__(UNSUPPORTED_MEDIA_TYPE_MSG, extra={"content_type": content_type[:200]})


class MalformedMultipart(DomainError):
    def __init__(self, detail: str):
        super().__init__(MALFORMED_MULTIPART_MSG.format(detail=detail))


class MalformedChunkedBody(DomainError):
    def __init__(self, detail: str):
        super().__init__(MALFORMED_CHUNKED_MSG.format(detail=detail))
