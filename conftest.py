"""Collection rules for the whole repository: the package's doctests run with the tests (``--doctest-modules``).

Imports nothing from gypsum_flows or Prefect: tests/conftest.py prepares the environment (PREFECT_HOME,
the cache) before either is first imported.
"""

from __future__ import annotations

import importlib.util

# The Snakemake plugin imports its interface package, which the `test` extra installs on Python 3.11+ only.
collect_ignore = (
    [] if importlib.util.find_spec("snakemake_interface_storage_plugins") else ["snakemake_storage_plugin_gypsum"]
)
