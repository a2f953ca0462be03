"""The flows curators and release pipelines run, each also a deployable entry point in ``flows/``.

- ``clone-modify-upload`` (:func:`clone_modify_upload`): a new version from an existing one; only changes are sent.
- ``validate-metadata-then-publish`` (:func:`validate_metadata_then_publish`): all metadata valid, or nothing uploaded.
- ``approve-probation`` (:func:`approve_probation_flow`): check probational versions, approve/reject/leave.
- ``publish-batch`` (:func:`publish_batch`): every asset of a YAML spec, in parallel, isolated, idempotent.
- ``recover`` (:func:`recover`): clear stale project locks and the partial versions they guard (admins).

Every flow leaves a table artifact and a markdown summary, and announces new
versions as ``gypsum.version.published`` events (see :mod:`.report`).
"""

from .approve_probation import approve_probation_flow
from .clone_modify_upload import clone_modify_upload
from .publish_batch import BatchFailedError, publish_batch
from .recover import recover
from .report import Outcome
from .validate_publish import validate_metadata_then_publish

__all__ = [
    "BatchFailedError",
    "Outcome",
    "approve_probation_flow",
    "clone_modify_upload",
    "publish_batch",
    "recover",
    "validate_metadata_then_publish",
]
