"""Snakemake storage plugin for gypsum: ``gypsum://PROJECT/ASSET/VERSION[/PATH]`` inputs and outputs.

Shipped in the gypsum-flows distribution (``pip install 'gypsum-flows[snakemake]'``, Python 3.11+ for
Snakemake itself); Snakemake finds it by its package name. See README.md, "Snakemake".

Example:
    >>> from snakemake_storage_plugin_gypsum import StorageProvider
    >>> StorageProvider.is_valid_query("gypsum://test-R/basic/latest").valid
    True
"""

from .plugin import StorageObject, StorageProvider
from .settings import StorageProviderSettings

__all__ = ["StorageObject", "StorageProvider", "StorageProviderSettings"]
