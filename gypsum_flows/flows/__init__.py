"""The flows curators and release pipelines run (``deployments/prefect.yaml`` deploys all but ``recover``).

- ``clone-modify-upload`` (:func:`clone_modify_upload`): a new version from an existing one; only changes are sent.
- ``validate-metadata-then-publish`` (:func:`validate_metadata_then_publish`): all metadata valid, or nothing uploaded.
- ``approve-probation`` (:func:`approve_probation_flow`): check probational versions, approve/reject/leave.
- ``publish-batch`` (:func:`publish_batch`): every asset of a YAML spec, in parallel, isolated, idempotent.
- ``recover`` (:func:`recover`): clear stale project locks and the partial versions they guard (admins).
- ``index-update`` (:func:`index_update`): replay the server's logs into a local metadata index (or rebuild it).
- ``review-probation`` (:func:`review_probation`): check a probational version, pause for a reviewer, decide.

Every flow leaves a table artifact and a markdown summary, and announces new
versions as ``gypsum.version.published`` events (see :mod:`.report`).
"""

from .approve_probation import approve_probation_flow
from .clone_modify_upload import clone_modify_upload
from .index_update import index_update
from .publish_batch import BatchFailedError, publish_batch
from .recover import recover
from .report import Outcome
from .review_probation import review_probation
from .validate_metadata_then_publish import validate_metadata_then_publish

__all__ = [
    "BatchFailedError",
    "Outcome",
    "approve_probation_flow",
    "clone_modify_upload",
    "index_update",
    "publish_batch",
    "recover",
    "review_probation",
    "validate_metadata_then_publish",
]
