"""Deployable entry point of the ``recover`` flow: ``flows/recover.py:recover``.

``python flows/recover.py`` runs it once with its defaults (every project,
locks older than 15 minutes, server and admin token from GYPSUM_REST_URL and
GYPSUM_TOKEN or the cached token).
"""

from gypsum_flows.flows.recover import recover

if __name__ == "__main__":
    print(recover())
