"""Errors answered by the emulator, named after the model's error shapes.

Each carries the ``x-amzn-ErrorType`` code and a message; the HTTP status comes from the error
shape's ``error.httpStatusCode`` in the service model unless given explicitly.
:class:`EmulatorControlError` is the client side's error for the control endpoints;
:class:`ImportFailure` fails an import job (the message becomes its ``statusMessage``).
Every error here derives from :class:`EmulatorError`, the emulator's own base.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class of every error the HealthOmics emulator raises on purpose."""


class OmicsError(EmulatorError):
    """An API error: ``code`` (e.g. ``ResourceNotFoundException``), ``message``, optional status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ValidationError(OmicsError):
    """``ValidationException`` listing constraint violations in the AWS wording."""

    def __init__(self, problems: list[str] | str) -> None:
        items = [problems] if isinstance(problems, str) else list(problems)
        count = len(items)
        noun = "error" if count == 1 else "errors"
        super().__init__(
            "ValidationException", f"{count} validation {noun} detected: " + "; ".join(items)
        )
        self.problems = items


def not_found(kind: str, ident: str) -> OmicsError:
    """``ResourceNotFoundException`` for resource ``kind`` with id/name ``ident``."""
    return OmicsError("ResourceNotFoundException", f"{kind} {ident} not found")


def conflict(message: str) -> OmicsError:
    """``ConflictException`` (HTTP 409)."""
    return OmicsError("ConflictException", message)


def invalid(message: str) -> OmicsError:
    """``ValidationException`` with a free-form message (semantic checks beyond the model)."""
    return OmicsError("ValidationException", message)


def not_implemented(operation: str) -> OmicsError:
    """``NotImplementedException`` (HTTP 501) for model operations the emulator lacks."""
    return OmicsError(
        "NotImplementedException",
        f"the local HealthOmics emulator does not implement {operation}",
        501,
    )


class EmulatorControlError(EmulatorError):
    """A call to an emulator control endpoint (``/_toolkit/...``) failed.

    Attributes:
        url: the endpoint called.
        status: the HTTP status answered (400: the request was rejected), ``None`` when nothing
            answered.
        message: the emulator's message, or why nothing answered.
    """

    def __init__(self, url: str, status: int | None, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.message = message


class ImportFailure(EmulatorError):
    """An import job's source cannot be read (VCF, TSV); ``str()`` names the file and the problem."""
