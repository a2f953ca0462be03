"""A flow's ``credentials`` parameter: a block, the name of a saved block, or ``None`` (the client defaults).

Example:
    >>> resolve_credentials(None).resolved_url() == GypsumCredentials().resolved_url()
    True
    >>> url_and_token(GypsumCredentials(url="http://x", token="t"), write=True)
    {'url': 'http://x', 'token': 't'}
"""

from __future__ import annotations

from typing import Any, cast

from ..blocks import GypsumCredentials


def resolve_credentials(credentials: GypsumCredentials | str | None) -> GypsumCredentials:
    """A credentials block from a block, the name of a saved block, or ``None`` (client defaults).

    Example:
        >>> resolve_credentials(None).url is None
        True
    """
    if isinstance(credentials, str):
        # Called from sync code, Block.load returns the block; its signature also admits the coroutine.
        return cast(GypsumCredentials, GypsumCredentials.load(credentials))
    return credentials or GypsumCredentials()


def url_and_token(credentials: GypsumCredentials | None, write: bool) -> dict[str, Any]:
    """``url=`` (and for writes ``token=``) from the block, for the modules that take no block
    (:mod:`gypsum_flows.recover`).

    Example:
        >>> url_and_token(GypsumCredentials(url="http://x", token="t"), write=False)
        {'url': 'http://x'}
    """
    kwargs = (credentials or GypsumCredentials()).client_kwargs(write=write)
    return {k: v for k, v in kwargs.items() if k in ("url", "token")}
