"""The gate every document a gypsum server sends passes before the client uses it.

A hostile or broken server must not make the client write outside its cache
or a clone's folder, nor crash it with ``AttributeError`` or ``TypeError``.
So manifests (keys, sizes, MD5s, links and their ancestors), ``..links``
documents, summaries, ``..latest`` and listings are checked here, once per
document, with the rules of :mod:`gypsum_flows.names` (the server's own).
Anything else is refused with :class:`~gypsum_flows.errors.GypsumUnsafeResponseError`,
which names the object and the server and is never retried.

Example:
    >>> manifest({"a.txt": {"size": 3, "md5sum": "0" * 32}}, "P/A/V/..manifest", "http://x")
    {'a.txt': {'size': 3, 'md5sum': '00000000000000000000000000000000'}}
    >>> latest({"version": ".."}, "P/A/..latest", "http://x")
    Traceback (most recent call last):
    gypsum_flows.errors.GypsumUnsafeResponseError: refused 'P/A/..latest' from http://x: version name cannot start with '..' (got '..')
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..constants import LINKS_FILE, MANIFEST_FILE, SUMMARY_FILE
from ..errors import GypsumUnsafeResponseError
from ..names import bad_name_reason, bad_path_reason, is_safe_key

_MD5 = re.compile(r"[0-9a-fA-F]{32}")
#: Paths that are certainly safe: components that are not empty and start with no ``.``, no ``\\`` or NUL.
#: The fast way through for almost every path; the others get the full rules.
_PLAIN_PATH = re.compile(r"[^./\\\x00][^/\\\x00]*(?:/[^./\\\x00][^/\\\x00]*)*")
_TARGET_FIELDS = ("project", "asset", "version")
#: Checks one parsed document: ``(document, key, url) -> document``, or raises.
DocumentCheck = Callable[[Any, str, str], Any]


def refusal(reason: str, key: str, url: str) -> GypsumUnsafeResponseError:
    """The error refusing ``key`` from the server at ``url``."""
    return GypsumUnsafeResponseError(reason, key=key, url=url)


def name_problem(name: object, kind: str) -> str | None:
    """Why ``name`` may not name a project, asset or version folder, or ``None``.

    The server's rules (:func:`~gypsum_flows.names.bad_name_reason`), and no
    ``.`` or NUL either, which would leave or end the folder name.
    """
    reason = bad_name_reason(name, kind)
    if reason is None and (name == "." or "\x00" in name):  # type: ignore[operator]
        reason = f"{kind} name cannot be '.' or contain a NUL byte"
    return f"{reason} (got {name!r})" if reason else None


def path_problem(path: object) -> str | None:
    """Why ``path`` may not name a file of a version (as a manifest key or link path), or ``None``."""
    reason = bad_path_reason(path)
    if reason is None and not is_safe_key(path):  # type: ignore[arg-type]
        reason = "components of a path cannot be '.' or contain a NUL byte"
    return f"{reason} (got {path!r})" if reason else None


def _target_problem(target: object) -> str | None:
    if not isinstance(target, dict):
        return f"a link target must be an object (got {type(target).__name__})"
    for kind in _TARGET_FIELDS:
        if problem := name_problem(target.get(kind), kind):
            return problem
    return path_problem(target.get("path"))


def link_problem(link: object) -> str | None:
    """Why a ``link`` object (with its ``ancestor``, if any) is unsafe, or ``None``."""
    problem = _target_problem(link)
    if problem is None and "ancestor" in link:  # type: ignore[operator]
        problem = _target_problem(link["ancestor"])  # type: ignore[index]
        problem = problem and f"ancestor: {problem}"
    return problem


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return f"an entry must be an object (got {type(entry).__name__})"
    size = entry.get("size")
    if type(size) is not int or size < 0:
        return f"size must be a non-negative integer (got {size!r})"
    md5 = entry.get("md5sum")
    if not isinstance(md5, str) or not _MD5.fullmatch(md5):
        return f"md5sum must be 32 hexadecimal digits (got {md5!r})"
    link = entry.get("link")
    return None if link is None else link_problem(link)


def _object(doc: Any, key: str, url: str) -> dict:
    if not isinstance(doc, dict):
        raise refusal(f"expected a JSON object, got {type(doc).__name__}", key, url)
    return doc


def _plain_entry(path: str, entry: Any) -> bool:
    """Whether a manifest entry is certainly safe: a plain path, a size and an MD5, no link (the usual case)."""
    if not (type(entry) is dict and _PLAIN_PATH.fullmatch(path) and "link" not in entry):
        return False
    size, md5 = entry.get("size"), entry.get("md5sum")
    return type(size) is int and size >= 0 and type(md5) is str and _MD5.fullmatch(md5) is not None


def manifest(doc: Any, key: str, url: str) -> dict:
    """``doc`` if it is a safe manifest: safe keys, entries with a size, an MD5 and safe links."""
    for path, entry in _object(doc, key, url).items():
        if not _plain_entry(path, entry) and (problem := path_problem(path) or _entry_problem(entry)):
            raise refusal(f"entry {path!r}: {problem}", key, url)
    return doc


def links_document(doc: Any, key: str, url: str) -> dict:
    """``doc`` if it is a safe ``..links`` document: base names mapped to safe link objects."""
    for name, link in _object(doc, key, url).items():
        problem = path_problem(name) or link_problem(link)
        if problem is None and "/" in name:
            problem = f"a base name cannot contain '/' (got {name!r})"
        if problem:
            raise refusal(f"entry {name!r}: {problem}", key, url)
    return doc


def _time_problem(value: object) -> str | None:
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return None
        except ValueError:
            pass
    return f"not an ISO 8601 time: {value!r}"


def _summary_problem(doc: dict) -> str | None:
    if not isinstance(doc.get("upload_user_id", ""), str):
        return f"upload_user_id must be a string (got {doc['upload_user_id']!r})"
    if not isinstance(doc.get("on_probation", False), bool):
        return f"on_probation must be true or false (got {doc['on_probation']!r})"
    for field in ("upload_start", "upload_finish"):
        if field in doc and (problem := _time_problem(doc[field])):
            return f"{field} is {problem}"
    return None


def summary(doc: Any, key: str, url: str) -> dict:
    """``doc`` if it is a summary whose fields have the contract's types."""
    if problem := _summary_problem(_object(doc, key, url)):
        raise refusal(problem, key, url)
    return doc


def latest(doc: Any, key: str, url: str) -> str:
    """The version named by a ``..latest`` document, if it is a safe version name."""
    version = _object(doc, key, url).get("version")
    if problem := name_problem(version, "version"):
        raise refusal(problem, key, url)
    return str(version)


def permissions(doc: Any, key: str, url: str) -> dict:
    """``doc`` if it is a ``..permissions`` document: ``owners`` a list, ``uploaders`` a list of objects
    whose ``until``, if any, is an ISO 8601 time."""
    uploaders = _object(doc, key, url).get("uploaders", [])
    problem = None if isinstance(doc.get("owners", []), list) else "owners must be a list"
    if problem is None and not (isinstance(uploaders, list) and all(isinstance(u, dict) for u in uploaders)):
        problem = "uploaders must be a list of objects"
    if problem is None:
        problem = next((f"until is {p}" for u in uploaders if "until" in u and (p := _time_problem(u["until"]))), None)
    if problem:
        raise refusal(problem, key, url)
    return doc


def usage(doc: Any, key: str, url: str) -> int:
    """The ``total`` of a ``..usage`` document, if it is a non-negative integer."""
    total = _object(doc, key, url).get("total")
    if type(total) is not int or total < 0:
        raise refusal(f"total must be a non-negative integer (got {total!r})", key, url)
    return total


def any_json(doc: Any, key: str, url: str) -> Any:
    """Other internal documents: any JSON, used by their readers."""
    return doc


def check_for(path: str) -> DocumentCheck:
    """The check for the internal file ``path`` of a version, by its base name."""
    base = path.rpartition("/")[2]
    return {MANIFEST_FILE: manifest, LINKS_FILE: links_document, SUMMARY_FILE: summary}.get(base, any_json)


def parse(body: bytes, key: str, url: str) -> Any:
    """The JSON in ``body``; ``ValueError`` if it does not parse (maybe garbled), refused if nested too deep."""
    try:
        return json.loads(body)
    except RecursionError:
        raise refusal("JSON nested too deeply to read", key, url) from None


def body_check(path: str, key: str, url: str, keep: list | None = None) -> Callable[[bytes], str | None]:
    """A check of a downloaded internal file's bytes for :mod:`gypsum_flows.cache` (appends the document to ``keep``).

    Returns what is wrong when the body is not JSON (the download is repeated, it may have been garbled);
    raises when it is JSON of the wrong shape (nothing is written).
    """
    check = check_for(path)

    def verify(body: bytes) -> str | None:
        try:
            doc = parse(body, key, url)
        except (ValueError, UnicodeDecodeError) as exc:
            return f"is not valid JSON ({exc})"
        doc = check(doc, key, url)
        if keep is not None:
            keep.append(doc)
        return None

    return verify


def listed_names(entries: Any, prefix: str, url: str) -> list[str]:
    """The folder names right under ``prefix`` in a ``/list`` answer, ``..`` entries left out; unsafe ones refused."""
    names = []
    for entry in _listing(entries, prefix, url):
        if not (entry.endswith("/") and entry.startswith(prefix)):
            continue
        name = entry[len(prefix) : -1]
        if name.startswith(".."):
            continue
        if problem := name_problem(name, "listed"):
            raise refusal(f"listing entry {entry!r}: {problem}", prefix, url)
        names.append(name)
    return names


def listed_paths(entries: Any, base: str, query: str, url: str) -> list[str]:
    """The paths relative to ``base`` of the files under ``query`` in a ``/list`` answer; unsafe ones refused."""
    paths = []
    for entry in _listing(entries, query, url):
        if not entry.startswith(query):
            continue
        path = entry[len(base) :]
        if not _PLAIN_PATH.fullmatch(path) and (not is_safe_key(path) or path.endswith("/")):
            raise refusal(f"listing entry {entry!r} is not a safe file path inside {base!r}", query, url)
        paths.append(path)
    return paths


def _listing(entries: Any, prefix: str, url: str) -> list[str]:
    if not isinstance(entries, list):
        raise refusal(f"a listing must be a JSON array (got {type(entries).__name__})", prefix, url)
    for entry in entries:
        if not isinstance(entry, str):
            raise refusal(f"a listing entry must be a string (got {entry!r})", prefix, url)
    return entries
