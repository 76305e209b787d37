"""Domain errors: each carries a message for the user and an HTTP status.

    AfterdarkError (400)
    ├── InvalidInputError (422)     a value is wrong; the message names it
    ├── AuthenticationError (401)   not logged in, or bad credentials
    ├── PermissionDeniedError (403) logged in, but not allowed (also: under age)
    ├── PaymentRequiredError (402)  not enough Sparks for it
    ├── NotFoundError (404)         no such thing, or not yours (never tell which)
    ├── ConflictError (409)         the state does not allow it now
    └── RateLimitedError (429)      too many tries; retry_after says when to come back

Services raise these; the web layer renders ``{"error": {"code", "message"}}`` with the
status, and the CLI prints the message and exits non-zero.
"""

from __future__ import annotations


class AfterdarkError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(AfterdarkError):
    status = 422
    code = "invalid_input"


class AuthenticationError(AfterdarkError):
    status = 401
    code = "not_authenticated"


class PermissionDeniedError(AfterdarkError):
    status = 403
    code = "forbidden"


class PaymentRequiredError(AfterdarkError):
    status = 402
    code = "payment_required"


class NotFoundError(AfterdarkError):
    status = 404
    code = "not_found"


class ConflictError(AfterdarkError):
    status = 409
    code = "conflict"


class RateLimitedError(AfterdarkError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
