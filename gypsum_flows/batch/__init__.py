"""Batch publishing specs: the YAML model and loader (:mod:`.spec`), metadata rules (:mod:`.metadata`)
and whole-spec checks (:mod:`.check`). Pure code: no Prefect, no server."""

from .check import check_spec, load_and_check
from .metadata import MetadataCheck
from .spec import AssetJob, BatchSpec, SpecError, SpecProblem, load_spec

__all__ = [
    "AssetJob",
    "BatchSpec",
    "MetadataCheck",
    "SpecError",
    "SpecProblem",
    "check_spec",
    "load_and_check",
    "load_spec",
]
