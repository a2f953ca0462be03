"""The plugin's settings: ``--storage-gypsum-*`` flags and ``SNAKEMAKE_STORAGE_GYPSUM_*`` variables.

Field types are real types, not strings (no ``from __future__ import
annotations`` here): Snakemake builds its flags from them. The token is left
out of the settings' repr and out of the commands of spawned jobs, which
Snakemake prints with ``--verbose`` (they get it through the environment).

Example:
    >>> "s3cret" in repr(StorageProviderSettings(token="s3cret"))
    False
"""

from dataclasses import dataclass, field
from typing import Optional

from snakemake_interface_storage_plugins.settings import StorageProviderSettingsBase

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_switch(value: str) -> bool:
    """``yes/no``, ``true/false``, ``on/off`` or ``1/0`` as a bool.

    Example:
        >>> parse_switch("No")
        False
    """
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"expected one of {'/'.join(_TRUE + _FALSE)}, got {value!r}")


def unparse_switch(value: bool) -> str:
    """The inverse of :func:`parse_switch`."""
    return "yes" if value else "no"


def hide_token(token: str) -> str:
    """What Snakemake puts in a spawned job's command (printed with ``--verbose``): nothing.

    The provider hands the token to jobs through ``GYPSUM_TOKEN`` in the environment instead.
    """
    return ""


def _switch(default: bool, help: str) -> bool:  # noqa: A002
    # A plain bool field with default True would become a '--no-NAME' flag without the plugin prefix.
    return field(
        default=default,
        metadata={
            "help": help,
            "env_var": True,
            "metavar": "yes|no",
            "parse_func": parse_switch,
            "unparse_func": unparse_switch,
            "unparse": unparse_switch,
        },
    )


# Optional[X], not X | None: Snakemake recognises typing.Union only.
@dataclass
class StorageProviderSettings(StorageProviderSettingsBase):
    """Where the gypsum server and the cache are, who publishes, and how."""

    url: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={"help": "gypsum REST URL (default: GYPSUM_REST_URL, else the public instance).", "env_var": True},
    )
    cache_dir: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "gypsum cache folder shared with every gypsum client (default: GYPSUM_CACHE_DIR, "
            "else the user cache folder of gypsum).",
            "env_var": True,
        },
    )
    token: Optional[str] = field(  # noqa: UP045
        default=None,
        repr=False,
        metadata={
            "help": "GitHub token for publishing outputs (default: the gypsum token file, GYPSUM_TOKEN or "
            "GITHUB_TOKEN). Use the environment variable: Snakemake logs its command line.",
            "env_var": True,
            "unparse": hide_token,
        },
    )
    probation: Optional[bool] = _switch(False, "Publish output versions on probation (yes/no; default no).")  # noqa: UP045
    deduplicate: Optional[bool] = _switch(  # noqa: UP045
        True,
        "Let the server turn output files equal to ones in the asset's latest version into links "
        "(yes/no; default yes).",
    )
    concurrent: Optional[int] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "Files transferred at once per version (default: the client's, 8).",
            "env_var": True,
            "type": int,
        },
    )
