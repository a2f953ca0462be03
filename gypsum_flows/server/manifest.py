"""Planning an upload: validate ``files``, deduplicate, check links, build the manifest.

Implements sections 1.5 (file paths), 2.6, 2.11 and 2.12 of docs/gypsum-api.md; every
failure is a 400 with the reference server's reason.

Example:
    >>> split_files([{"type": "simple", "path": "a.txt", "md5sum": "0" * 32, "size": 1}])[0][0]["path"]
    'a.txt'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..constants import LATEST_FILE, MANIFEST_FILE, SUMMARY_FILE
from ..names import bad_path_reason
from .storage import Bucket
from .web import HttpError

_MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")
_LINK_FIELDS = ("project", "asset", "version", "path")


@dataclass(frozen=True)
class Plan:
    """The manifest to write and the paths that need bytes, in response order."""

    manifest: dict[str, dict[str, Any]]
    uploads: list[dict[str, Any]]
    upload_bytes: int


def _is_size(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= 0 and float(value).is_integer()


def _check_file(entry: Any) -> None:
    if not isinstance(entry, dict):
        raise HttpError("'files' should be an array of objects", 400)
    if not isinstance(entry.get("type"), str):
        raise HttpError("'files.type' should be a string", 400)
    reason = bad_path_reason(entry.get("path"))
    if reason:
        raise HttpError(reason, 400)
    kind = entry["type"]
    if kind in ("simple", "dedup"):
        if not isinstance(entry.get("md5sum"), str):
            raise HttpError("'files.md5sum' should be a string", 400)
        if not _MD5_HEX.match(entry["md5sum"]):
            raise HttpError("'files.md5sum' should be a 32-character hexadecimal MD5 checksum", 400)
        if not _is_size(entry.get("size")):
            raise HttpError("'files.size' should be a non-negative integer", 400)
    elif kind == "link":
        if not isinstance(entry.get("link"), dict):
            raise HttpError("'files.link' should be an object", 400)
        for name in _LINK_FIELDS:
            if not isinstance(entry["link"].get(name), str):
                raise HttpError(f"'files.link.{name}' should be a string", 400)
    else:
        raise HttpError("invalid 'files.type'", 400)


def split_files(files: Any) -> tuple[list[dict], list[dict], list[dict]]:
    """Validate ``files`` and split it into (simple, dedup, link) entries."""
    if not isinstance(files, list):
        raise HttpError("expected the 'files' property to be an array", 400)
    groups: dict[str, list[dict]] = {"simple": [], "dedup": [], "link": []}
    seen: set[str] = set()
    for entry in files:
        _check_file(entry)
        if entry["path"] in seen:
            raise HttpError(f"duplicated value '{entry['path']}' in 'files.path'", 400)
        seen.add(entry["path"])
        if entry["type"] != "link":
            entry = {**entry, "md5sum": entry["md5sum"].lower(), "size": int(entry["size"])}
        groups[entry["type"]].append(entry)
    return groups["simple"], groups["dedup"], groups["link"]


def _deduplicate(bucket: Bucket, project: str, asset: str, dedup: list[dict]) -> tuple[list[dict], list[dict]]:
    """Split dedup files into (still simple, now links) against the latest version's manifest."""
    latest = bucket.get_json(f"{project}/{asset}/{LATEST_FILE}")
    if latest is None or not dedup:
        return dedup, []
    last = latest["version"]
    manifest = _target_manifest(bucket, project, asset, last)
    by_sum_size = {f"{v['md5sum']}_{v['size']}": k for k, v in manifest.items()}
    simple, links = [], []
    for entry in dedup:
        match = by_sum_size.get(f"{entry['md5sum']}_{entry['size']}")
        if match is None:
            simple.append(entry)
        else:
            target = {"project": project, "asset": asset, "version": last, "path": match}
            links.append({"type": "link", "path": entry["path"], "link": target})
    return simple, links


def _target_manifest(bucket: Bucket, project: str, asset: str, version: str) -> dict[str, Any]:
    manifest = bucket.get_json(f"{project}/{asset}/{version}/{MANIFEST_FILE}")
    if manifest is None:
        raise HttpError(f"no manifest available for link target inside '{project}/{asset}/{version}'", 400)
    return manifest


def _resolve_link(bucket: Bucket, here: tuple[str, str, str], entry: dict) -> dict[str, Any]:
    """The manifest entry of one link, after the checks of section 2.12 of docs/gypsum-api.md."""
    link = {name: entry["link"][name] for name in _LINK_FIELDS}
    where = f"{link['project']}/{link['asset']}/{link['version']}"
    described = f"link from '{entry['path']}' to '{where}/{link['path']}'"
    if (link["project"], link["asset"], link["version"]) == here:
        raise HttpError(f"detected circular {described}", 400)
    summary = bucket.get_json(f"{where}/{SUMMARY_FILE}")
    if summary is None:
        raise HttpError(f"cannot find version summary for {described}", 400)
    if summary.get("on_probation"):
        raise HttpError(f"cannot refer to probational version for {described}", 400)
    if "upload_finish" not in summary:
        raise HttpError(f"cannot refer to incomplete upload for {described}", 400)
    target = _target_manifest(bucket, link["project"], link["asset"], link["version"]).get(link["path"])
    if target is None:
        raise HttpError(f"failed to {described}", 400)
    if "link" in target:
        link["ancestor"] = target["link"].get("ancestor", target["link"])
    return {"size": target["size"], "md5sum": target["md5sum"], "link": link}


def plan_upload(bucket: Bucket, project: str, asset: str, version: str, files: Any) -> Plan:
    """Validate and deduplicate ``files`` and build the version's manifest."""
    simple, dedup, links = split_files(files)
    fallback, dedup_links = _deduplicate(bucket, project, asset, dedup)
    uploads = simple + fallback
    manifest: dict[str, dict[str, Any]] = {}
    for entry in uploads:
        manifest[entry["path"]] = {"size": entry["size"], "md5sum": entry["md5sum"]}
    for entry in links + dedup_links:
        manifest[entry["path"]] = _resolve_link(bucket, (project, asset, version), entry)
    return Plan(manifest, uploads, sum(entry["size"] for entry in uploads))
