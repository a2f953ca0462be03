"""Parity with gypsum_client 0.2.0: the same calls against one server give the same results, one cache.

gypsum_client freezes its defaults at import, so ``url=`` and ``cache_dir=``
are always passed to it explicitly.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

import gypsum_client as ref
import pytest
from client_helpers import BAR, BLAH
from testdata import write_files

from gypsum_flows import client as ours

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faultproxy import FaultProxy  # noqa: E402


@pytest.fixture
def counting(gypsum_server):
    """A fault-free proxy, to count the requests each client makes."""
    with FaultProxy(gypsum_server.url) as proxy:
        yield proxy


def test_listings_match(basic):
    p, url = basic.project, basic.url
    assert ours.list_projects(url=url) == ref.list_projects(url=url)
    assert ours.list_assets(p, url=url) == ref.list_assets(p, url=url)
    assert ours.list_versions(p, "basic", url=url) == ref.list_versions(p, "basic", url=url)
    assert ours.list_versions(p, "none", url=url) == ref.list_versions(p, "none", url=url) == []
    for version in ("v1", "v2", "v3"):
        for kwargs in ({}, {"prefix": "foo/"}, {"include_dot": False}):
            assert ours.list_files(p, "basic", version, url=url, **kwargs) == ref.list_files(
                p, "basic", version, url=url, **kwargs
            )


def test_fetches_match(basic, tmp_path):
    p, url = basic.project, basic.url
    c1, c2 = str(tmp_path / "ours"), str(tmp_path / "ref")
    assert ours.fetch_latest(p, "basic", url=url) == ref.fetch_latest(p, "basic", url=url)
    for version in ("v1", "v2", "v3"):
        assert ours.fetch_manifest(p, "basic", version, cache_dir=c1, url=url) == ref.fetch_manifest(
            p, "basic", version, cache_dir=c2, url=url
        )
        mine = ours.fetch_summary(p, "basic", version, cache_dir=c1, url=url)
        theirs = ref.fetch_summary(p, "basic", version, cache_dir=c2, url=url)
        assert mine == theirs and isinstance(mine["upload_finish"], datetime)
    assert ours.fetch_quota(p, url=url) == ref.fetch_quota(p, url=url)
    assert ours.fetch_usage(p, url=url) == ref.fetch_usage(p, url=url)


def test_permissions_and_admin_calls_match(gypsum_server, unique_name):
    url, tokens, logins = gypsum_server.url, gypsum_server.tokens, gypsum_server.logins
    until = (datetime.utcnow() + timedelta(days=2)).replace(microsecond=0)
    results = []
    for lib in (ours, ref):
        project = unique_name("par")
        lib.create_project(
            project,
            owners=logins["owner"],
            uploaders=[{"id": "u1", "until": until}],
            baseline=1000,
            url=url,
            token=tokens["admin"],
        )
        lib.set_permissions(
            project, owners=["o2"], uploaders=[{"id": "u2", "trusted": True}], url=url, token=tokens["owner"]
        )
        lib.set_quota(project, growth_rate=5, url=url, token=tokens["admin"])
        perms = lib.fetch_permissions(project, url=url)
        perms["owners"] = sorted(perms["owners"])  # gypsum_client's append goes through a set
        results.append(
            (
                perms,
                lib.fetch_quota(project, url=url),
                lib.fetch_usage(project, url=url),
                lib.refresh_usage(project, url=url, token=tokens["admin"]),
                lib.remove_project(project, url=url, token=tokens["admin"]),
            )
        )
    assert results[0] == results[1]
    assert results[0][0]["uploaders"][0] == {"id": "u1", "until": until}


def test_each_client_reuses_the_others_cache(basic, tmp_path, counting):
    p = basic.project
    cache = str(tmp_path / "shared")
    # gypsum_client saves v1, and our client finds it complete: no request at all.
    ref.save_version(p, "basic", "v1", cache_dir=cache, url=basic.url)
    before = len(counting.log)
    path = ours.save_version(p, "basic", "v1", cache_dir=cache, url=counting.url)
    assert ours.save_file(p, "basic", "v1", "blah.txt", cache_dir=cache, url=counting.url).startswith(path)
    assert ours.fetch_manifest(p, "basic", "v1", cache_dir=cache, url=counting.url)["blah.txt"]["size"] == len(BLAH)
    assert len(counting.log) == before
    # Our client saves v3 (links to v2 and ancestors in v1); gypsum_client reads it without downloading.
    ours.save_version(p, "basic", "v3", cache_dir=cache, url=basic.url)
    before = len(counting.log)
    out = ref.save_version(p, "basic", "v3", cache_dir=cache, url=counting.url)
    assert Path(out, "foo", "bar.txt").read_bytes() == BAR
    assert ref.save_file(p, "basic", "v3", "blah.txt", cache_dir=cache, url=counting.url) == os.path.join(
        out, "blah.txt"
    )
    assert ref.fetch_manifest(p, "basic", "v3", cache_dir=cache, url=counting.url) == ours.fetch_manifest(
        p, "basic", "v3", cache_dir=cache, url=counting.url
    )
    assert len(counting.log) == before


def test_clone_and_prepare_match(basic, tmp_path):
    p, url = basic.project, basic.url
    c1, c2 = str(tmp_path / "c1"), str(tmp_path / "c2")
    ours.clone_version(p, "basic", "v2", str(tmp_path / "mine"), cache_dir=c1, url=url)
    ref.clone_version(p, "basic", "v2", str(tmp_path / "theirs"), cache_dir=c2, url=url)
    for name in ("blah.txt", "foo/bar.txt"):
        assert os.readlink(tmp_path / "mine" / name).replace(c1, "C") == os.readlink(
            tmp_path / "theirs" / name
        ).replace(c2, "C")
    for clone in ("mine", "theirs"):
        write_files(tmp_path / clone, {"new.txt": b"new"})
    for mode in ("auto", "always", "never"):
        a = ours.prepare_directory_upload(str(tmp_path / "mine"), links=mode, cache_dir=c1)
        b = ref.prepare_directory_upload(str(tmp_path / "theirs"), links=mode, cache_dir=c2)
        assert sorted(a["files"]) == sorted(b["files"])
        assert sorted(a["links"], key=str) == sorted(b["links"], key=str)


def test_uploads_read_back_the_same_by_both(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = str(write_files(tmp_path / "src", {"blah.txt": BLAH, "foo/bar.txt": BAR}))
    assert ref.upload_directory(src, project, "a", "by-ref", url=url, token=owner, cache_dir=str(tmp_path / "c"))
    assert ours.upload_directory(src, project, "a", "by-ours", deduplicate=False, url=url, token=owner)
    m1 = ours.fetch_manifest(project, "a", "by-ref", cache_dir=False, url=url)
    m2 = ref.fetch_manifest(project, "a", "by-ours", cache_dir=str(tmp_path / "c"), url=url)
    assert m1 == m2
    assert ref.fetch_latest(project, "a", url=url) == ours.fetch_latest(project, "a", url=url) == "by-ours"
    init = ref.start_upload(project, "a", "aborted", [], url=url, token=owner)
    ours.abort_upload(init, url=url)
    assert ref.list_versions(project, "a", url=url) == ["by-ours", "by-ref"]


REFERENCE_NAMES = """rest_url cache_directory access_token set_access_token public_s3_config fetch_latest fetch_manifest
fetch_permissions fetch_quota fetch_summary fetch_usage list_projects list_assets list_versions list_files save_file
save_version resolve_links clone_version prepare_directory_upload start_upload upload_files complete_upload
abort_upload upload_directory create_project set_permissions set_quota approve_probation reject_probation
refresh_latest refresh_usage remove_project remove_asset remove_version""".split()

#: Defaults we resolve at call time (None) or deliberately changed (threads by default).
CHANGED_DEFAULTS = {"url", "cache_dir", "app_url", "concurrent", "uploaders"}


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_same_names_parameters_and_defaults(name):
    import inspect

    theirs = inspect.signature(getattr(ref, name)).parameters
    mine = inspect.signature(getattr(ours, name)).parameters
    assert list(mine)[: len(theirs)] == list(theirs), name
    for param in theirs.values():
        if param.name not in CHANGED_DEFAULTS:
            assert mine[param.name].default == param.default, (name, param.name)
    assert name in ours.__all__ and "unlock_project" in ours.__all__


def test_constants_match():
    assert ours.BUCKET_CACHE_NAME == ref.BUCKET_CACHE_NAME == "bucket"
    assert ours.REQUESTS_MOD == ref.REQUESTS_MOD == {"verify": True}


@pytest.fixture
def requests_mods():
    """Both clients' REQUESTS_MOD, restored afterwards."""
    saved = dict(ours.REQUESTS_MOD), dict(ref.REQUESTS_MOD)
    yield ours.REQUESTS_MOD, ref.REQUESTS_MOD
    for mod, old in zip((ours.REQUESTS_MOD, ref.REQUESTS_MOD), saved, strict=True):
        mod.clear()
        mod.update(old)


def test_requests_mod_verify_applies_to_every_request(basic, project, gypsum_server, tmp_path, requests_mods):
    from client_helpers import self_signed_cert, tree

    from gypsum_flows.errors import GypsumTransientError

    mine, theirs = requests_mods
    cert, key = self_signed_cert(tmp_path)
    with FaultProxy(gypsum_server.url, tls=(cert, key)) as tls:
        with pytest.raises(GypsumTransientError, match="certificate verify failed"):  # not trusted by default
            ours.list_versions(basic.project, "basic", url=tls.url)
        theirs["verify"] = mine["verify"] = cert  # a custom CA bundle, as gypsum_client allows
        assert (
            ours.list_versions(basic.project, "basic", url=tls.url)
            == ref.list_versions(basic.project, "basic", url=tls.url)
            == ["v1", "v2", "v3"]
        )
        # Kept-alive file GETs (save_version) and PUTs (upload_directory) go over TLS with that bundle too.
        saved = ours.save_version(basic.project, "basic", "v1", cache_dir=str(tmp_path / "c1"), url=tls.url)
        assert {k: v for k, v in tree(saved).items() if not k.startswith("..")} == {
            "blah.txt": BLAH,
            "foo/bar.txt": BAR,
        }
        src = write_files(tmp_path / "src", {f"f{i}.txt": f"{i}".encode() for i in range(5)})
        ours.upload_directory(str(src), project, "a", "v1", url=tls.url, token=gypsum_server.tokens["owner"])
        assert tls.requests_matching(r"^PUT /upload/put/") == 5
        assert tls.requests_matching(r"^GET /file/") >= 2
        mine["verify"] = False  # no checks at all
        assert ours.fetch_latest(project, "a", url=tls.url) == "v1"
        mine["verify"], mine["bogus"] = cert, 1
        with pytest.raises(ValueError, match=r"REQUESTS_MOD: unsupported option\(s\) \['bogus'\]"):
            ours.fetch_latest(project, "a", url=tls.url)
