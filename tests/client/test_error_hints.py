"""Errors that say what to do, with their typed classes kept."""

from __future__ import annotations

import pytest

from gypsum_flows import client
from gypsum_flows.errors import GypsumInvalidRequestError, GypsumNotFoundError, GypsumPermissionError


def test_upload_into_a_missing_project_says_how_to_create_it(gypsum_server, unique_name, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    name = unique_name("missing")
    with pytest.raises(GypsumInvalidRequestError) as info:
        client.upload_directory(
            str(tmp_path), name, "a", "v1", url=gypsum_server.url, token=gypsum_server.tokens["owner"]
        )
    assert f"no existing permissions for project '{name}'" in str(info.value)
    assert f"create it with 'gypsum-flows project create {name} --owner LOGIN' (needs an admin's token)" in str(
        info.value
    )
    with pytest.raises(GypsumNotFoundError, match=f"project '{name}' does not exist: create it with"):
        client.fetch_permissions(name, url=gypsum_server.url)


def test_a_401_from_a_local_server_points_to_its_users_file(gypsum_server, unique_name):
    with pytest.raises(GypsumPermissionError) as info:
        client.create_project(unique_name("p"), owners="x", url=gypsum_server.url, token="wrong")
    assert info.value.status == 401 and "users file" in str(info.value) and "--print-token" in str(info.value)
    assert "wrong" not in str(info.value)
