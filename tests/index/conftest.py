"""Fixtures of the index tests (defined in tests/metadata_helpers.py, shared with the metadata tests)."""

from metadata_helpers import metadata_server, static_server  # noqa: F401 - fixtures, registered by being imported here
