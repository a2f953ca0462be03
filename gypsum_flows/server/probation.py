"""Probation: approve (owner/admin) or reject (the uploader or a manager) (section 3.4 of docs/gypsum-api.md).

Example (over HTTP)::

    POST /probation/approve/P/A/V  -> 200; the version may become ..latest
    POST /probation/reject/P/A/V   -> 200; the version is deleted
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..constants import LATEST_FILE, SUMMARY_FILE
from .bookkeeping import add_usage, is_later_than_latest, require_summary, write_log
from .locks import locked
from .permissions import require_owner, require_uploader
from .storage import Bucket
from .web import Call, HttpError, empty_response


def _probational_summary(bucket: Bucket, project: str, asset: str, version: str, verb: str) -> dict[str, Any]:
    summary = require_summary(bucket, project, asset, version)
    if not summary.get("on_probation"):
        raise HttpError(f"cannot {verb} probation for non-probational version", 400)
    return summary


def approve(call: Call) -> Response:
    """``POST /probation/approve/{P}/{A}/{V}``: lift probation; update ``..latest`` if it is newer."""
    project, asset, version = call.name("project"), call.name("asset"), call.name("version")
    require_owner(call, project)
    bucket: Bucket = call.state.bucket
    with locked(bucket, project, asset, version):
        summary = _probational_summary(bucket, project, asset, version, "approve")
        del summary["on_probation"]
        bucket.put_json(f"{project}/{asset}/{version}/{SUMMARY_FILE}", summary)
        is_latest = is_later_than_latest(bucket, project, asset, summary)
        if is_latest:
            bucket.put_json(f"{project}/{asset}/{LATEST_FILE}", {"version": version})
    entry = {"type": "add-version", "project": project, "asset": asset, "version": version, "latest": is_latest}
    write_log(bucket, entry)
    return empty_response()


def reject(call: Call) -> Response:
    """``POST /probation/reject/{P}/{A}/{V}``: delete a probational version (own uploads only, unless manager)."""
    project, asset, version = call.name("project"), call.name("asset"), call.name("version")
    uploader = require_uploader(call, project, asset, version)
    bucket: Bucket = call.state.bucket
    with locked(bucket, project, asset, version):
        summary = _probational_summary(bucket, project, asset, version, "reject")
        if not uploader.can_manage and summary.get("upload_user_id") != uploader.user.login:
            raise HttpError("cannot reject probation for different user", 400)
        add_usage(bucket, project, -bucket.delete_prefix(f"{project}/{asset}/{version}/"))
    return empty_response()
