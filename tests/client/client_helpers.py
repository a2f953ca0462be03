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


def self_signed_cert(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key, written to ``folder``: ``(cert_file, key_file)``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)
