"""Deployable entry point of the ``publish-batch`` flow: ``flows/publish_batch.py:publish_batch``.

``python flows/publish_batch.py SPEC`` publishes a spec once (server and token
from GYPSUM_REST_URL and GYPSUM_TOKEN or the cached token); ``gypsum-flows
publish SPEC`` does the same with flags and a summary table.
"""

import sys

from gypsum_flows.flows.publish_batch import publish_batch

if __name__ == "__main__":
    for outcome in publish_batch(sys.argv[1]):
        print(outcome.label, outcome.outcome)
