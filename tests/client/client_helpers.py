"""Shared data and helpers for the client tests (imported by name, like the other suites' helpers)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

BLAH = "".join(f"{chr(c)}\n" for c in range(ord("A"), ord("Z") + 1)).encode()
BAR = b"1 2 3 4 5\n6 7 8 9 10\n"
BASIC_FILES = {"blah.txt": BLAH, "foo/bar.txt": BAR}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()



def tree(directory: str | Path) -> dict[str, bytes]:
    """Relative path -> bytes of every regular file under ``directory`` (following symlinks)."""
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            full = Path(root) / name
            out[str(full.relative_to(directory))] = full.read_bytes()
    return out


def cache_files(cache: Path) -> list[str]:
    """Every file in a cache folder, relative to it, sorted (lock files included)."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file() or p.is_symlink())


def save_and_check(project: str, asset: str, version: str, cache_dir: str, url: str) -> dict[str, bool]:
    """In a child process: save a version, then whether each manifest file's MD5 matches (path -> ok)."""
    from gypsum_flows import client

    out = client.save_version(project, asset, version, cache_dir=cache_dir, url=url)
    manifest = client.fetch_manifest(project, asset, version, cache_dir=cache_dir, url=url)
    return {path: md5_hex(Path(out, path).read_bytes()) == entry["md5sum"] for path, entry in manifest.items()}
