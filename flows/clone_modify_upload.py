"""Deployable entry point of ``clone-modify-upload``: ``flows/clone_modify_upload.py:clone_modify_upload``.

``python flows/clone_modify_upload.py PROJECT ASSET NEW_VERSION OVERLAY_FOLDER`` clones the latest
version, overlays the folder and uploads the result once.
"""

import sys

from gypsum_flows.flows.clone_modify_upload import clone_modify_upload

if __name__ == "__main__":
    project, asset, version, overlay = sys.argv[1:5]
    print(clone_modify_upload(project, asset, version, overlay=overlay))
