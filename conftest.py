"""Collection rules of the doctest run, ``python -m pytest --doctest-modules gypsum_flows snakemake_storage_plugin_gypsum``.

A run of its own: ``--doctest-modules`` over ``tests/`` would import each folder's ``conftest.py`` a second
time under one module name. pytest never imports ``__main__.py`` for doctests. This file imports nothing
from gypsum_flows or Prefect: tests/conftest.py prepares the environment before either is first imported.
"""

from __future__ import annotations

import importlib.util

# The Snakemake plugin imports its interface package, which the `test` extra installs on Python 3.11+ only.
collect_ignore = (
    [] if importlib.util.find_spec("snakemake_interface_storage_plugins") else ["snakemake_storage_plugin_gypsum"]
)
