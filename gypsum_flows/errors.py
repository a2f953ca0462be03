"""The one exception tree of gypsum-flows.

Every HTTP error carries the status, the method, the URL and the server's
``reason``; the client picks the subclass from the status and the reason so
callers can ``except`` what they can handle. The publishing errors (an
interrupted or busy target version, a conflict, fan-out, index and review
failures) close the tree. Tokens never appear in messages.

Example:
    >>> from gypsum_flows.errors import GypsumNotFoundError, GypsumError
    >>> issubclass(GypsumNotFoundError, FileNotFoundError)
    True
"""

from __future__ import annotations


class GypsumError(Exception):
    """Base class of every error raised by gypsum-flows."""

    #: How many times the request that failed was sent; 1 when no layer repeated it (docs/client.md, "The retry budget").
    attempts: int = 1


class GypsumHTTPError(GypsumError):
    """A gypsum server answered with an error (or could not be reached)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.reason = reason
        self.status = status
        self.method = method
        self.url = url
        where = " ".join(x for x in (method, url) if x)
        code = f"{status} " if status is not None else ""
        super().__init__(f"{code}{reason}" + (f" ({where})" if where else ""))


class GypsumNotFoundError(GypsumHTTPError, FileNotFoundError):
    """The object, version, project or endpoint does not exist (404)."""


class GypsumPermissionError(GypsumHTTPError, PermissionError):
    """The identity is missing (401) or not allowed to do this (403)."""


class GypsumLockedError(GypsumPermissionError):
    """Another operation holds the project lock; retrying later may succeed."""


class GypsumInvalidRequestError(GypsumHTTPError, ValueError):
    """The server rejected the request as invalid (400)."""


class GypsumQuotaExceededError(GypsumInvalidRequestError):
    """The upload would exceed the project's storage quota."""


class GypsumTransientError(GypsumHTTPError):
    """A network failure, timeout, 429 or 5xx that may succeed if repeated."""


class GypsumOfflineError(GypsumTransientError):
    """Offline mode (``GYPSUM_OFFLINE``) kept a request from being sent; never worth repeating as is."""


class GypsumIntegrityError(GypsumError):
    """A downloaded or uploaded file does not match its expected size or MD5."""


class GypsumUnsafeResponseError(GypsumIntegrityError):
    """A server sent a path, name, link, document or body that is unsafe or malformed; refused, never retried.

    ``key`` is the object (or listing) refused and ``url`` where it came from.
    """

    def __init__(self, reason: str, *, key: str | None = None, url: str | None = None) -> None:
        self.reason, self.key, self.url = reason, key, url
        what = f"'{key}'" if key else "a response"
        super().__init__(f"refused {what}" + (f" from {url}" if url else "") + f": {reason}")


class GypsumFileChangedError(GypsumError):
    """A local file changed (size, time or length read) while it was being uploaded; repeating will not help."""


class GypsumNameError(GypsumError, ValueError):
    """A project, asset, version or path name is not allowed."""


class GypsumAuthError(GypsumError):
    """No usable token could be found or obtained."""


class GypsumMetadataError(GypsumError, ValueError):
    """A metadata document does not validate against its schema.

    ``violations`` lists ``(json_path, message)`` pairs, one per problem.
    """

    def __init__(self, message: str, violations: list[tuple[str, str]] | None = None) -> None:
        self.violations = list(violations or [])
        super().__init__(message)


class GypsumSpecError(GypsumError, ValueError):
    """A batch spec file is malformed; the message names file, line and field."""


class InterruptedUploadError(GypsumError):
    """The target version was left partial by an interrupted upload and could not be recovered here."""


class VersionBusyError(GypsumError):
    """Another upload of the target version was still running when the wait for it ran out."""


class VersionConflictError(GypsumError):
    """The target version already exists with different content; ``files`` lists the differences.

    Example:
        >>> str(VersionConflictError("p/a/v1", ["x.txt (only in the new content)"]))
        'p/a/v1 already exists with different content: x.txt (only in the new content)'
    """

    def __init__(self, label: str, files: list[str]) -> None:
        self.files = files
        shown = "; ".join(files[:20]) + (f"; and {len(files) - 20} more" if len(files) > 20 else "")
        super().__init__(f"{label} already exists with different content: {shown}")


class CacheWriteError(GypsumError):
    """A modification wrote through a cloned link into the gypsum cache instead of replacing the file."""


class FanOutCredentialsError(GypsumError, ValueError):
    """Fan-out was asked with credentials a worker cannot load by name."""


class IndexUpdateError(GypsumError):
    """Some versions or logs could not be indexed (the rest were)."""


class ReviewTimeoutError(GypsumError):
    """Nobody decided within the review's timeout; the version stays on probation."""


def is_transient(exc: BaseException) -> bool:
    """Whether repeating the operation that raised ``exc`` may succeed.

    Transient: network failures, timeouts, 429, 5xx, a project locked by
    another operation and a download that kept arriving corrupted. Never: invalid requests, permissions, missing objects,
    quota, a response refused as unsafe, or a request that offline mode kept from being sent.

    Example:
        >>> is_transient(GypsumTransientError("boom", status=503))
        True
        >>> is_transient(GypsumInvalidRequestError("bad", status=400))
        False
    """
    if isinstance(exc, (GypsumUnsafeResponseError, GypsumOfflineError)):
        return False
    return isinstance(exc, (GypsumTransientError, GypsumLockedError, GypsumIntegrityError))
