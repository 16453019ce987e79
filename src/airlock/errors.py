"""One error hierarchy. The web layer maps `status` and `message` to HTTP once."""

from __future__ import annotations


class AirlockError(Exception):
    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(AirlockError):
    status = 400


class Unauthorized(AirlockError):
    """No or bad credentials. `challenge` becomes the WWW-Authenticate header."""

    status = 401

    def __init__(self, message: str, *, challenge: str = "Bearer") -> None:
        super().__init__(message)
        self.challenge = challenge


class OtpRequired(AirlockError):
    """A second factor is needed: npm answers this with its OTP prompt."""

    status = 401


class Forbidden(AirlockError):
    status = 403


class NotFound(AirlockError):
    status = 404


class Conflict(AirlockError):
    status = 409


class PayloadTooLarge(AirlockError):
    status = 413


class Unprocessable(AirlockError):
    status = 422


class TooManyRequests(AirlockError):
    """Throttled. `retry_after` (seconds) becomes the Retry-After header."""

    status = 429

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(AirlockError):
    status = 503
