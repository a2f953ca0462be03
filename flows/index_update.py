"""Deployable entry point of ``index-update``: ``flows/index_update.py:index_update``.

``python flows/index_update.py URL DIRECTORY [--fresh]`` updates (or rebuilds) the metadata index once.
"""

import sys

from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.flows.index_update import index_update

if __name__ == "__main__":
    url, directory = sys.argv[1:3]
    print(index_update(directory, fresh="--fresh" in sys.argv[3:], credentials=GypsumCredentials(url=url)))
