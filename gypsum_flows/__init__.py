"""gypsum-flows: publish versioned datasets to gypsum as Prefect workflows.

The package is layered: ``gypsum_flows.client`` (no Prefect) is a robust
drop-in for ``gypsum_client``; ``gypsum_flows.tasks`` and ``gypsum_flows.flows``
wrap it for Prefect; ``gypsum_flows.server`` is a local gypsum-compatible server.
Importing this package imports none of them.
"""

__version__ = "0.1.0"
