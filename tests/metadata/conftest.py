"""Fixtures of the metadata tests (defined in tests/metadata_helpers.py, shared with the index tests)."""

from metadata_helpers import static_server  # noqa: F401 - fixtures, registered by being imported here
