"""Deployable entry point of ``approve-probation``: ``flows/approve_probation.py:approve_probation_flow``.

``python flows/approve_probation.py PROJECT [ASSET]`` reviews every probational version once and
leaves those that fail their checks pending.
"""

import sys

from gypsum_flows.flows.approve_probation import approve_probation_flow

if __name__ == "__main__":
    for outcome in approve_probation_flow(*sys.argv[1:3]):
        print(outcome.label, outcome.outcome, outcome.detail)
