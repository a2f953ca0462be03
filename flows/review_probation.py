"""Deployable entry point of ``review-probation``: ``flows/review_probation.py:review_probation``.

``python flows/review_probation.py PROJECT ASSET VERSION`` reports on the version and waits for a
decision entered in the Prefect UI (resume the paused run).
"""

import sys

from gypsum_flows.flows.review_probation import review_probation

if __name__ == "__main__":
    outcome = review_probation(*sys.argv[1:4])
    print(outcome.label, outcome.outcome, outcome.detail)
