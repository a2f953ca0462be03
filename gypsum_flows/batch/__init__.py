"""Batch publishing specs: the YAML model and loader (:mod:`.spec`), metadata rules (:mod:`.metadata`)
and whole-spec validation (:mod:`.validate`). Pure code: no Prefect, no server."""

from .metadata import MetadataCheck
from .spec import AssetJob, BatchSpec, SpecError, SpecProblem, load_spec
from .validate import load_and_validate, validate_spec

__all__ = [
    "AssetJob",
    "BatchSpec",
    "MetadataCheck",
    "SpecError",
    "SpecProblem",
    "load_and_validate",
    "load_spec",
    "validate_spec",
]
