"""One gypsum server's client: every operation of :mod:`gypsum_flows.client` as a typed method.

A method takes its client function's own parameters (same names, defaults
and types) and leaves out ``url``, ``cache_dir`` and ``token``, which the
client supplies by rule, wherever the function takes them: reads get the
server URL and the cache folder, writes also the token, local work only the
cache folder. A read never receives the token. ``fetch_metadata_database``
and ``fetch_metadata_schema`` keep their own ``url`` (the hosts of the
metadata index and schemas, not the gypsum server).

This module does not import Prefect;
:meth:`gypsum_flows.blocks.GypsumCredentials.get_client` builds a client from
a credentials block, and every Prefect task calls one.

Example:
    >>> gypsum = GypsumClient(url="http://127.0.0.1:8787/", token="s3cret")
    >>> gypsum
    GypsumClient(url='http://127.0.0.1:8787')
    >>> gypsum.define_text_query("mouse", field="organism").field
    'organism'
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from pydantic import SecretStr

from . import client
from ._http import resolve_url

P = ParamSpec("P")
R = TypeVar("R")

#: The settings each kind of operation is given, wherever its function takes them.
_READ = ("url", "cache_dir")
_WRITE = ("url", "cache_dir", "token")
_LOCAL = ("cache_dir",)


class _Method(Generic[P, R]):
    """A client function as a :class:`GypsumClient` method, the settings of its kind supplied by the client.

    The method's signature is the function's without those settings; passing
    one is a ``TypeError``, as for any unknown argument. Type checkers see the
    function's full signature (a ``ParamSpec`` cannot drop parameters), so
    pass the arguments after a setting's place by keyword.

    Example:
        >>> GypsumClient.fetch_manifest.settings
        ('url', 'cache_dir')
        >>> list(inspect.signature(GypsumClient().fetch_manifest).parameters)
        ['project', 'asset', 'version', 'overwrite']
    """

    def __init__(self, fn: Callable[P, R], kind: tuple[str, ...]) -> None:
        full = inspect.signature(fn)
        if any(p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL) for p in full.parameters.values()):
            # Arguments are handed on by keyword (see __call__), which these parameters cannot take.
            raise TypeError(f"{fn.__name__}: a positional-only or *args parameter cannot be bound by keyword")
        # Called with keywords assembled at run time; the typed view of it is ``__get__``'s.
        self._fn: Callable[..., R] = fn
        self.settings = tuple(name for name in kind if name in full.parameters)
        self._own = full.replace(parameters=[p for n, p in full.parameters.items() if n not in self.settings])
        functools.update_wrapper(self, fn)
        this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.__signature__ = self._own.replace(parameters=[this, *self._own.parameters.values()])

    @overload
    def __get__(self, gypsum: None, owner: type | None = None) -> _Method[P, R]: ...

    @overload
    def __get__(self, gypsum: GypsumClient, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, gypsum: GypsumClient | None, owner: type | None = None) -> Any:
        return self if gypsum is None else types.MethodType(self, gypsum)

    def __call__(self, gypsum: GypsumClient, *args: Any, **kwargs: Any) -> R:
        # Bound to the method's own signature, so positions and errors are the method's, not the function's.
        bound = self._own.bind(*args, **kwargs)
        given: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if self._own.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                given.update(value)
            else:
                given[name] = value
        return self._fn(**given, **gypsum._settings(self.settings))


class GypsumClient:
    """:mod:`gypsum_flows.client` with the server URL, cache folder and (for writes) token filled in.

    Empty settings fall back to the client's defaults when a method is called
    (``GYPSUM_REST_URL``, ``GYPSUM_CACHE_DIR``, ``GYPSUM_TOKEN`` or the token
    file). The token is kept as a secret: not in the repr, handed only to
    writes.

    Example:
        >>> gypsum = GypsumClient(url="http://127.0.0.1:8787", token="s3cret")
        >>> "s3cret" in repr(gypsum) + str(vars(gypsum))
        False
    """

    def __init__(
        self, url: str | None = None, cache_dir: str | None = None, token: str | SecretStr | None = None
    ) -> None:
        self._url = url
        self._cache_dir = cache_dir
        self._token = SecretStr(token) if isinstance(token, str) else token

    def __repr__(self) -> str:
        return f"GypsumClient(url={resolve_url(self._url)!r})"

    def _secret(self) -> str | None:
        """The token for a write (None: the client resolves one)."""
        return None if self._token is None else self._token.get_secret_value()

    def _settings(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """The named settings; the token is unwrapped only when asked for (by writes)."""
        known = {"url": self._url, "cache_dir": self._cache_dir}
        return {name: self._secret() if name == "token" else known[name] for name in names}

    # Reads: the server URL and, where the function caches, the cache folder; never the token.
    fetch_latest = _Method(client.fetch_latest, _READ)
    fetch_manifest = _Method(client.fetch_manifest, _READ)
    fetch_permissions = _Method(client.fetch_permissions, _READ)
    fetch_summary = _Method(client.fetch_summary, _READ)
    fetch_quota = _Method(client.fetch_quota, _READ)
    list_assets = _Method(client.list_assets, _READ)
    fetch_usage = _Method(client.fetch_usage, _READ)
    list_files = _Method(client.list_files, _READ)
    list_projects = _Method(client.list_projects, _READ)
    list_versions = _Method(client.list_versions, _READ)
    public_s3_config = _Method(client.public_s3_config, _READ)
    save_file = _Method(client.save_file, _READ)
    save_version = _Method(client.save_version, _READ)
    resolve_links = _Method(client.resolve_links, _READ)
    clone_version = _Method(client.clone_version, _READ)

    # Writes: also the token (upload session steps take none: they carry their own session token).
    create_project = _Method(client.create_project, _WRITE)
    set_permissions = _Method(client.set_permissions, _WRITE)
    set_quota = _Method(client.set_quota, _WRITE)
    approve_probation = _Method(client.approve_probation, _WRITE)
    reject_probation = _Method(client.reject_probation, _WRITE)
    refresh_latest = _Method(client.refresh_latest, _WRITE)
    refresh_usage = _Method(client.refresh_usage, _WRITE)
    remove_project = _Method(client.remove_project, _WRITE)
    remove_asset = _Method(client.remove_asset, _WRITE)
    remove_version = _Method(client.remove_version, _WRITE)
    unlock_project = _Method(client.unlock_project, _WRITE)
    start_upload = _Method(client.start_upload, _WRITE)
    upload_files = _Method(client.upload_files, _WRITE)
    complete_upload = _Method(client.complete_upload, _WRITE)
    abort_upload = _Method(client.abort_upload, _WRITE)
    upload_directory = _Method(client.upload_directory, _WRITE)

    # Local work, and downloads from the metadata hosts (whose url is the caller's): the cache folder only.
    prepare_directory_upload = _Method(client.prepare_directory_upload, _LOCAL)
    fetch_metadata_database = _Method(client.fetch_metadata_database, _LOCAL)
    fetch_metadata_schema = _Method(client.fetch_metadata_schema, _LOCAL)

    # Local work that needs no setting: the client's own functions.
    validate_metadata = staticmethod(client.validate_metadata)
    define_text_query = staticmethod(client.define_text_query)
    search_metadata_text = staticmethod(client.search_metadata_text)
