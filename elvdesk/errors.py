"""Errors raised by services. Pages turn them into messages, the API into one error shape."""


class DomainError(Exception):
    """A request that is well-formed but cannot be carried out now."""

    http_status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Conflict(DomainError):
    """The state changed under the caller (stale version, illegal transition, answered offer)."""

    http_status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    http_status = 403
    code = "permission_denied"
