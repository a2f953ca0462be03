"""Deployable entry point of ``validate-metadata-then-publish``:
``flows/validate_metadata_then_publish.py:validate_metadata_then_publish``.

``python flows/validate_metadata_then_publish.py FOLDER PROJECT ASSET VERSION`` runs it once.
"""

import sys

from gypsum_flows.flows.validate_publish import validate_metadata_then_publish

if __name__ == "__main__":
    print(validate_metadata_then_publish(*sys.argv[1:5]))
