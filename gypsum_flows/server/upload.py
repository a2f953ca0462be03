"""The upload flow: start, presigned URL, complete and abort (section 3.3 of docs/gypsum-api.md).

Example (over HTTP, see ``tests/server``)::

    POST /upload/start/P/A/V           -> {file_urls, complete_url, abort_url, session_token}
    POST /upload/presigned-file/<slug> -> {url, md5sum_base64}; then PUT <url> with Content-MD5
    POST /upload/complete/P/A/V        -> 200, the version is visible
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ..constants import LATEST_FILE, LINKS_FILE, MANIFEST_FILE, QUOTA_FILE, SUMMARY_FILE, USAGE_FILE
from .bookkeeping import add_usage, now_iso, write_log
from .locks import check_lock, lock_project, unlock_project
from .manifest import plan_upload
from .permissions import require_uploader
from .storage import Bucket
from .web import Call, CompactJSONResponse, HttpError, empty_response


def _names(call: Call) -> tuple[str, str, str]:
    return call.name("project"), call.name("asset"), call.name("version")


def quota_limit(bucket: Bucket, project: str, year: int) -> float:
    """The project's effective quota in bytes for ``year``."""
    quota = bucket.need_json(f"{project}/{QUOTA_FILE}")
    return quota["baseline"] + (year - quota["year"]) * quota["growth_rate"]


def _slug(project: str, asset: str, version: str, path: str, md5sum: str) -> str:
    dump = json.dumps([project, asset, version, path, md5sum], separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(dump.encode()).decode()


def start_upload(call: Call) -> Response:
    """``POST /upload/start/{P}/{A}/{V}``: lock, write summary and manifest, hand out URLs."""
    project, asset, version = _names(call)
    body = call.json()
    if not isinstance(body, dict):
        raise HttpError("expected request body to be a JSON object", 400)
    probation = body.get("on_probation", False)
    if not isinstance(probation, bool):
        raise HttpError("expected the 'on_probation' property to be a boolean", 400)
    uploader = require_uploader(call, project, asset, version)
    probation = probation or not uploader.is_trusted
    bucket: Bucket = call.state.bucket
    with bucket.project_lock(project):
        session = lock_project(bucket, project, asset, version)
        if bucket.exists(f"{project}/{asset}/{version}/{SUMMARY_FILE}"):
            unlock_project(bucket, project)
            raise HttpError("project-asset-version already exists", 400)
        try:
            return _prepare(call, (project, asset, version), body, uploader.user.login, probation, session)
        except BaseException:
            bucket.delete_prefix(f"{project}/{asset}/{version}/")
            unlock_project(bucket, project)
            raise


def _prepare(call: Call, pav: tuple[str, str, str], body: dict, login: str, probation: bool, session: str) -> Response:
    """Steps 6-10 of the reference sequence; the caller cleans up on failure."""
    project, asset, version = pav
    bucket: Bucket = call.state.bucket
    prefix = f"{project}/{asset}/{version}/"
    start = now_iso()
    bucket.put_json(prefix + SUMMARY_FILE, {"upload_user_id": login, "upload_start": start, "on_probation": probation})
    plan = plan_upload(bucket, project, asset, version, body.get("files"))
    limit = call.state.max_file_size
    for entry in plan.uploads:
        if limit is not None and entry["size"] > limit:
            raise HttpError(
                f"file '{entry['path']}' is {entry['size']} bytes, over this server's limit of {limit} "
                "bytes per file (gypsum's single-upload limit; see --max-file-size)",
                400,
            )
    usage = bucket.need_json(f"{project}/{USAGE_FILE}")["total"]
    if usage + plan.upload_bytes >= quota_limit(bucket, project, int(start[:4])):
        raise HttpError("upload exceeds the storage quota for this project", 400)
    bucket.put_json(prefix + MANIFEST_FILE, plan.manifest)
    file_urls = [
        {
            "path": f["path"],
            "url": "/upload/presigned-file/" + quote(_slug(*pav, f["path"], f["md5sum"]), safe=""),
            "method": "presigned",
        }
        for f in plan.uploads
    ]
    return CompactJSONResponse(
        {
            "file_urls": file_urls,
            "complete_url": f"/upload/complete/{project}/{asset}/{version}",
            "abort_url": f"/upload/abort/{project}/{asset}/{version}",
            "session_token": session,
        }
    )


def _decode_slug(slug: str) -> tuple[str, str, str, str, str]:
    try:
        parts = json.loads(base64.b64decode(slug, validate=True).decode())
        if not (isinstance(parts, list) and len(parts) == 5 and all(isinstance(p, str) for p in parts)):
            raise ValueError("expected an array of 5 strings")
    except RecursionError:
        raise HttpError("invalid slug for the presigned URL endpoint; its JSON is nested too deeply", 400) from None
    except ValueError as exc:
        raise HttpError(f"invalid slug ('{slug}') for the presigned URL endpoint; {exc}", 400) from None
    return tuple(parts)


def presigned_file(call: Call) -> Response:
    """``POST /upload/presigned-file/{slug}``: a signed PUT URL on this server, bound to key and MD5."""
    project, asset, version, path, md5sum = _decode_slug(call.params["slug"])
    bucket: Bucket = call.state.bucket
    session = call.bearer()
    with bucket.project_lock(project):
        session_hash = check_lock(bucket, project, asset, version, session)
        entry = bucket.need_json_memo(f"{project}/{asset}/{version}/{MANIFEST_FILE}").get(path)
    if entry is None or "link" in entry or entry["md5sum"] != md5sum.lower():
        raise HttpError(f"'{path}' with MD5 '{md5sum}' is not an upload of this session", 400)
    md5_base64 = base64.b64encode(bytes.fromhex(entry["md5sum"])).decode()
    key = f"{project}/{asset}/{version}/{path}"
    token, signature = call.state.signer.sign(key, md5_base64, entry["size"], session_hash)
    url = f"{call.base_url}/upload/put/{token}?signature={signature}"
    return CompactJSONResponse({"url": url, "md5sum_base64": md5_base64})


def complete_upload(call: Call) -> Response:
    """``POST /upload/complete/{P}/{A}/{V}``: verify the files, write links, latest, summary, usage."""
    project, asset, version = _names(call)
    bucket: Bucket = call.state.bucket
    prefix = f"{project}/{asset}/{version}/"
    with bucket.project_lock(project):
        check_lock(bucket, project, asset, version, call.bearer())
        manifest = bucket.need_json(prefix + MANIFEST_FILE)
        summary = bucket.need_json(prefix + SUMMARY_FILE)
        added, links = _verify_files(bucket, prefix, manifest)
        for folder, entries in links.items():
            bucket.put_json(prefix + folder + LINKS_FILE, entries)
        if not summary.get("on_probation"):
            bucket.put_json(f"{project}/{asset}/{LATEST_FILE}", {"version": version})
            summary.pop("on_probation", None)
        summary["upload_finish"] = now_iso()
        bucket.put_json(prefix + SUMMARY_FILE, summary)
        add_usage(bucket, project, added)
        unlock_project(bucket, project)
        if "on_probation" not in summary:
            entry = {"type": "add-version", "project": project, "asset": asset, "version": version, "latest": True}
            write_log(bucket, entry)
    return empty_response()


def _verify_files(bucket: Bucket, prefix: str, manifest: dict[str, Any]) -> tuple[int, dict[str, dict]]:
    """(bytes added, ``..links`` contents by folder); 400/500 when the files do not match the manifest."""
    sizes = {key[len(prefix) :]: size for key, size in bucket.walk(prefix)}
    added, links = 0, dict[str, dict[str, Any]]()
    for path, entry in manifest.items():
        if "link" in entry:
            if path in sizes:
                raise HttpError(f"linked-from path '{path}' in manifest should not have a file", 500)
            folder, _, name = path.rpartition("/")
            links.setdefault(folder + "/" if folder else "", {})[name] = entry["link"]
            continue
        if path not in sizes:
            raise HttpError(f"path '{path}' in manifest should have a file", 400)
        if sizes[path] != entry["size"]:
            raise HttpError(f"actual size of '{path}' does not match its reported size in the manifest", 400)
        added += sizes[path]
    return added, links


def abort_upload(call: Call) -> Response:
    """``POST /upload/abort/{P}/{A}/{V}``: delete the partial version and release the lock."""
    project, asset, version = _names(call)
    bucket: Bucket = call.state.bucket
    with bucket.project_lock(project):
        check_lock(bucket, project, asset, version, call.bearer())
        bucket.delete_prefix(f"{project}/{asset}/{version}/")
        unlock_project(bucket, project)
    return empty_response()
