"""``gypsum://PROJECT/ASSET/VERSION[/PATH]`` queries: checks and parsing, by plain string splitting.

No URL parser is used: those lower-case the "host", and gypsum names are
case-sensitive (``test-R`` stays ``test-R``). A query without ``PATH`` is the
whole version, used as a directory; ``latest`` as the version of an input is
resolved by the provider.

Example:
    >>> parse_query("gypsum://test-R/basic/v1/foo/bar.txt")
    GypsumQuery(project='test-R', asset='basic', version='v1', path='foo/bar.txt')
    >>> query_problem("gypsum://test-R/basic/../x")
    "version name cannot start with '..'"
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from snakemake_interface_storage_plugins.io import WILDCARD_REGEX

from gypsum_flows.names import bad_name_reason

SCHEME = "gypsum://"
LATEST = "latest"
FORM = "gypsum://PROJECT/ASSET/VERSION[/PATH]"


@dataclass(frozen=True)
class GypsumQuery:
    """One parsed query; ``path=None`` is the whole version."""

    project: str
    asset: str
    version: str
    path: str | None = None

    @property
    def is_version(self) -> bool:
        """Whether the query names a whole version (a directory)."""
        return self.path is None

    @property
    def version_key(self) -> str:
        """``P/A/V``."""
        return f"{self.project}/{self.asset}/{self.version}"

    @property
    def key(self) -> str:
        """``P/A/V`` or ``P/A/V/PATH``."""
        return f"{self.version_key}/{self.path}" if self.path else self.version_key

    def with_version(self, version: str) -> GypsumQuery:
        """The same query in another version (e.g. ``latest`` resolved)."""
        return replace(self, version=version)

    def __str__(self) -> str:
        return SCHEME + self.key


def _path_problem(parts: list[str]) -> str | None:
    for part in parts:
        if part == "":
            return "the path has an empty part (a repeated or trailing '/')"
        if part in (".", ".."):
            return f"the path cannot contain '{part}' segments"
        if part.startswith(".."):
            return f"'{part}' is an internal gypsum name (starting with '..'); it cannot be read or written"
    return None


def query_problem(query: str) -> str | None:
    """Why ``query`` is not a valid gypsum query, or ``None``; wildcards such as ``{sample}`` are allowed."""
    if not query.startswith(SCHEME):
        return f"must start with '{SCHEME}' ({FORM})"
    # A wildcard's constraint may hold '/' (e.g. {x,[^/]+}): check the query with each wildcard as one name.
    parts = WILDCARD_REGEX.sub("w", query[len(SCHEME) :]).split("/")
    if len(parts) < 3:
        return f"needs a project, an asset and a version ({FORM})"
    for name, kind in zip(parts, ("project", "asset", "version"), strict=False):
        reason = bad_name_reason(name, kind)
        if reason is None and name == ".":
            reason = f"{kind} name cannot be '.'"
        if reason:
            return reason
    return _path_problem(parts[3:])


def parse_query(query: str) -> GypsumQuery:
    """The parts of a valid query without wildcards.

    Raises:
        ValueError: The query is not valid; the message says why.
    """
    problem = query_problem(query)
    if problem:
        raise ValueError(f"invalid gypsum query '{query}': {problem}")
    project, asset, version, *path = query[len(SCHEME) :].split("/")
    return GypsumQuery(project, asset, version, "/".join(path) or None)
