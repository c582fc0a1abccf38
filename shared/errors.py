"""One exception root for the project, so callers can catch Pantau's failures and nothing else."""

from __future__ import annotations


class PantauError(Exception):
    """Root of every error Pantau raises on purpose."""


class ConfigError(PantauError):
    """A configuration or registry file is missing, unreadable or invalid.

    The message is one line naming the file and the field, fit to print as-is.
    """


class PayloadError(PantauError):
    """A message on the wire could not be accepted; `reason` is a short stable label for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SourceError(PantauError):
    """A device could not be read. `path` names what failed (e.g. a RouterOS path)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SinkError(PantauError):
    """The database refused or could not take a write. `retryable` says whether to try again."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
