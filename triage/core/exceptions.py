"""Domain errors: one base class, turned into one JSON shape by the API handler."""


class DomainError(Exception):
    """A broken business rule, reported to the caller as ``{"message", "extra"}``."""

    status_code = 400

    def __init__(self, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFound(DomainError):
    """The object does not exist or belongs to a hospital the user cannot see."""

    status_code = 404

    def __init__(self, message: str = "Not found.", *, extra: dict | None = None):
        super().__init__(message, extra=extra)


class Conflict(DomainError):
    """The object changed since the caller read it."""

    status_code = 409


class ServiceUnavailable(DomainError):
    """A dependency (broker, storage) is down; the caller may retry later."""

    status_code = 503


class StorageOffline(OSError):
    """The study file store (disk or S3) did not answer; transient, so tasks retry and uploads get 503."""
