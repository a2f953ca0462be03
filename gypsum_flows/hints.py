"""What to do about a failure: one table of hints, shared by the CLI and the flows' reports.

Pure code (no Prefect): the CLI prints a hint under an error, and a batch's
summary table shows one beside each failed asset.

Example:
    >>> hint_for(GypsumAuthError("no token"))
    'set GYPSUM_TOKEN (or --token-env VAR), or log in once so the token is cached'
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import (
    GypsumAuthError,
    GypsumLockedError,
    GypsumMetadataError,
    GypsumNotFoundError,
    GypsumPermissionError,
    GypsumTransientError,
)


def _text_has(*words: str) -> Callable[[BaseException], bool]:
    return lambda exc: any(word in str(exc) for word in words)


#: (does this exception match, what to do about it), first match wins.
HINTS: list[tuple[Callable[[BaseException], bool], str]] = [
    (
        _text_has("Failed to reach API"),
        (
            "is the Prefect server in PREFECT_API_URL running? Start one (`prefect server start`), "
            "or unset PREFECT_API_URL to use an embedded one"
        ),
    ),
    (
        _text_has("attempting to connect to ephemeral"),
        (
            "the embedded Prefect server did not start in time: raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, "
            "or start one (`prefect server start`) and set PREFECT_API_URL"
        ),
    ),
    (
        lambda exc: isinstance(exc, GypsumAuthError),
        "set GYPSUM_TOKEN (or --token-env VAR), or log in once so the token is cached",
    ),
    (
        lambda exc: isinstance(exc, GypsumLockedError),
        "another upload holds the project lock: retry later, or ask an admin to run `gypsum-flows recover`",
    ),
    (
        lambda exc: isinstance(exc, GypsumPermissionError),
        "check the token (GYPSUM_TOKEN or --token-env) and that its user may upload to this project",
    ),
    (
        lambda exc: (
            (isinstance(exc, GypsumNotFoundError) and "project" in str(exc).lower())
            or "no existing permissions for project" in str(exc)
        ),
        "does the project exist? An admin creates it: `gypsum-flows project create NAME --owner LOGIN`",
    ),
    (
        lambda exc: isinstance(exc, GypsumMetadataError),
        "fix the metadata file; `gypsum-flows check SPEC` lists every problem without uploading",
    ),
    (
        _text_has("already exists with different content"),
        "published versions are immutable: give the new content a new version name",
    ),
    (
        lambda exc: isinstance(exc, GypsumTransientError),
        "is the gypsum server reachable (--url or GYPSUM_REST_URL)? Retrying later may work",
    ),
]


def hint_for(exc: BaseException) -> str:
    """What to do about ``exc`` (or its cause), or ``""`` when nothing useful can be said.

    Example:
        >>> hint_for(GypsumAuthError("no token"))
        'set GYPSUM_TOKEN (or --token-env VAR), or log in once so the token is cached'
    """
    for candidate in (exc, exc.__cause__):
        if candidate is None:
            continue
        for matches, hint in HINTS:
            if matches(candidate):
                return hint
    return ""
