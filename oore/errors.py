"""The one error hierarchy of Oore.

Every error a user can see derives from `OoreError` and carries a stable `code` and an HTTP
status; `oore.http.errors` maps them to responses in one place and the CLI prints `message`.
Third-party errors are translated at the edge with ``raise ... from exc``.
"""

from __future__ import annotations


class OoreError(Exception):
    """Base of every error Oore raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(OoreError):
    """A setting is missing or malformed; the message names the key and the expected form."""

    code = "config_error"


class BadRequest(OoreError):
    code = "bad_request"
    status = 400


class ValidationError(BadRequest):
    """A request field is invalid; `field` names it."""

    code = "validation_error"
    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Unauthorized(OoreError):
    code = "unauthorized"
    status = 401


class WebhookRefused(Unauthorized):
    """A delivery whose signature or token does not vouch for it; `why` is a short code
    (missing_signature, bad_signature, ...) for counting and logging by reason."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


class Forbidden(OoreError):
    code = "forbidden"
    status = 403


class NotFound(OoreError):
    code = "not_found"
    status = 404


class Expired(NotFound):
    """It existed, but retention removed it (a build's log after OORE_RETENTION_LOGS_DAYS)."""

    code = "expired"
    status = 410


class MethodNotAllowed(OoreError):
    code = "method_not_allowed"
    status = 405


class Conflict(OoreError):
    code = "conflict"
    status = 409


class IllegalTransition(Conflict):
    """A status change the transition table does not allow; a bug if it reaches a user."""

    code = "illegal_transition"


class PayloadTooLarge(OoreError):
    code = "payload_too_large"
    status = 413


class ClientDisconnected(BadRequest):
    """The client went away before its request was complete: there is nobody to answer."""

    code = "client_disconnected"


class RequestTimeout(OoreError):
    code = "request_timeout"
    status = 408


class Unavailable(OoreError):
    code = "unavailable"
    status = 503


class ProviderError(OoreError):
    """A provider (GitHub, GitLab) answered with an error, or something Oore cannot use."""

    code = "provider_error"
    status = 502


class StoreBusy(Unavailable):
    """Another process kept the database locked for longer than the store waits. It passes when
    that process ends its transaction, so the supervisor restarts an actor that failed on it
    without counting the failure toward escalation."""

    code = "store_busy"


class CryptoError(OoreError):
    """A sealed value cannot be opened: wrong key, wrong row, or tampered data."""

    code = "crypto_error"


class InvalidPipeline(OoreError):
    """The pipeline file is wrong; names the file, line and key."""

    code = "invalid_pipeline"
    status = 422

    def __init__(self, file: str, line: int | None, key: str | None, message: str) -> None:
        where = file if line is None else f"{file}:{line}"
        at = f" ({key})" if key else ""
        super().__init__(f"{where}{at}: {message}")
        self.file = file
        self.line = line
        self.key = key


class ToolchainMissing(OoreError):
    """A workflow asks for an SDK version (`environment.flutter: 3.22.0`) this machine lacks;
    names the versions it has."""

    code = "toolchain_missing"
    status = 422
