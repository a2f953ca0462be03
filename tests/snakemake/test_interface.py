"""The storage interface's own test suite (TestStorageBase) against the local server."""

from __future__ import annotations

import secrets

import pytest
from snakemake_helpers import FIRST, LINKED
from snakemake_interface_storage_plugins.tests import TestStorageBase

from gypsum_flows import client
from snakemake_storage_plugin_gypsum import StorageProvider


class _AgainstServer(TestStorageBase):
    @pytest.fixture(autouse=True)
    def _server(self, published, settings_for):
        self.published = published
        self.settings = settings_for()

    def get_storage_provider_cls(self):
        return StorageProvider

    def get_storage_provider_settings(self):
        return self.settings


class TestFileQueries(_AgainstServer):
    """One file of a published version: existence, mtime, size, checksum, inventory, retrieval."""

    __test__ = True
    retrieve_only = True

    def get_query(self, tmp_path):
        return self.published.query(FIRST, "counts.csv")

    def get_query_not_existing(self, tmp_path):
        return self.published.query(FIRST, "missing.csv")


class TestLinkedFileQueries(TestFileQueries):
    """A file of a deduplicated version: a link entry, retrieved from its ancestor."""

    def get_query(self, tmp_path):
        return self.published.query(LINKED, "coldata.csv")


class TestVersionQueries(_AgainstServer):
    """A whole version as a directory: published (on probation, so remove() rejects it), then retrieved."""

    __test__ = True
    files_only = False

    @pytest.fixture(autouse=True)
    def _version(self, settings_for):
        self.settings = settings_for(probation=True)
        self.version = f"t-{secrets.token_hex(4)}"

    def test_storage(self, tmp_path):
        self._test_storage(tmp_path, directory=True)
        # remove() rejected the probational version: nothing is left on the server.
        with pytest.raises(FileNotFoundError):
            client.fetch_summary(
                self.published.project, "interface", self.version, cache_dir=False, url=self.published.url
            )

    def get_query(self, tmp_path):
        return f"gypsum://{self.published.project}/interface/{self.version}"

    def get_query_not_existing(self, tmp_path):
        return f"gypsum://{self.published.project}/interface/never-published"


@pytest.fixture(scope="module")
def linked_version(published, tmp_path_factory) -> str:
    """A version whose ``test.txt`` (the file the interface's suite looks for) is a link to an earlier version."""
    source = tmp_path_factory.mktemp("interface-src")
    (source / "test.txt").write_text("test")
    (source / "sub").mkdir()
    (source / "sub" / "more.txt").write_text("more")
    for version in ("v1", "v2"):
        client.upload_directory(
            str(source),
            published.project,
            "interface-links",
            version,
            url=published.url,
            token=published.server.tokens["owner"],
            cache_dir=str(tmp_path_factory.mktemp("c")),
        )
    assert (
        "link"
        in client.fetch_manifest(published.project, "interface-links", "v2", cache_dir=False, url=published.url)[
            "test.txt"
        ]
    )
    return f"gypsum://{published.project}/interface-links/v2"


class TestPublishedVersionQueries(_AgainstServer):
    """A whole published version whose files are links, retrieved as a directory."""

    __test__ = True
    files_only = False
    retrieve_only = True

    @pytest.fixture(autouse=True)
    def _linked(self, linked_version):
        self.linked = linked_version

    def test_storage(self, tmp_path):
        self._test_storage(tmp_path, directory=True)

    def get_query(self, tmp_path):
        return self.linked

    def get_query_not_existing(self, tmp_path):
        return self.published.query("1999-01-01")
