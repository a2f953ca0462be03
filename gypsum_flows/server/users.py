"""Identities from a YAML users file, in place of GitHub.

The file holds ``admins: [login-or-org, ...]`` and
``users: [{login, token, orgs: [...]}, ...]``. Tokens are compared in
constant time and never appear in errors or reprs.

Example:
    >>> users = Users.from_document({"admins": ["alice"], "users": [{"login": "alice", "token": "t0k"}]})
    >>> users.find("t0k").login, users.is_admin(users.find("t0k"))
    ('alice', True)
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from starlette.responses import JSONResponse, Response

from .web import Call, HttpError


@dataclass(frozen=True)
class User:
    """A known identity: its login and organizations."""

    login: str
    orgs: tuple[str, ...] = ()
    token: str = field(default="", repr=False, compare=False)

    def is_one_of(self, allowed: list[str]) -> bool:
        """Whether the login or one of the organizations is in ``allowed``."""
        return self.login in allowed or any(org in allowed for org in self.orgs)


@dataclass(frozen=True)
class Users:
    """The administrators and the token → user table."""

    admins: tuple[str, ...]
    users: tuple[User, ...]

    @classmethod
    def from_document(cls, doc: Any, source: str = "users file") -> Users:
        """Build from a parsed users document; bad shapes raise ``ValueError`` naming the field."""
        if not isinstance(doc, dict):
            raise ValueError(f"{source}: expected a mapping with 'admins' and 'users'")
        admins = doc.get("admins") or []
        if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
            raise ValueError(f"{source}: 'admins' must be a list of logins or organizations")
        entries = doc.get("users") or []
        if not isinstance(entries, list):
            raise ValueError(f"{source}: 'users' must be a list")
        users = tuple(_parse_user(entry, f"{source}: users[{i}]") for i, entry in enumerate(entries))
        if len({u.token for u in users}) != len(users):
            raise ValueError(f"{source}: two users share a token")
        return cls(tuple(admins), users)

    def find(self, token: str) -> User | None:
        """The user holding ``token``, compared in constant time against every entry."""
        found = None
        for user in self.users:
            if hmac.compare_digest(user.token.encode(), token.encode()):
                found = user
        return found

    def is_admin(self, user: User) -> bool:
        """Whether ``user`` (or one of its organizations) is an administrator."""
        return user.is_one_of(list(self.admins))


def _parse_user(entry: Any, where: str) -> User:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping with 'login', 'token' and 'orgs'")
    login, token, orgs = entry.get("login"), entry.get("token"), entry.get("orgs") or []
    if not isinstance(login, str) or not login:
        raise ValueError(f"{where}: 'login' must be a non-empty string")
    if not isinstance(token, str) or not token:
        raise ValueError(f"{where}: 'token' must be a non-empty string")
    if not isinstance(orgs, list) or not all(isinstance(o, str) for o in orgs):
        raise ValueError(f"{where}: 'orgs' must be a list of strings")
    return User(login, tuple(orgs), token)


def load_users(path: str | os.PathLike[str]) -> Users:
    """Read a YAML users file.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "users.yaml"
        >>> _ = f.write_text("admins: [bob]\\nusers: [{login: bob, token: s3cret}]\\n")
        >>> load_users(f).admins
        ('bob',)
    """
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    return Users.from_document(doc, str(path))


def generate_users_file(path: Path, login: str = "local-admin") -> Path:
    """Write a users file with one administrator and a random token, unless it exists.

    The file is readable by its owner only. Returns ``path``.

    Example:
        >>> import tempfile, pathlib
        >>> f = generate_users_file(pathlib.Path(tempfile.mkdtemp()) / "users.yaml")
        >>> load_users(f).admins
        ('local-admin',)
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"admins": [login], "users": [{"login": login, "token": secrets.token_urlsafe(32), "orgs": []}]}
    # Written whole under a private name, then linked into place: a server and a --print-token starting at
    # the same moment both end up with the one file that won, never a half-written one.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(doc, handle)
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return path


def admin_token(path: str | os.PathLike[str]) -> str:
    """The token of the first administrator listed in a users file (``ValueError`` if none has one).

    Example:
        >>> import tempfile, pathlib
        >>> f = generate_users_file(pathlib.Path(tempfile.mkdtemp()) / "users.yaml")
        >>> len(admin_token(f)) > 20
        True
    """
    users = load_users(path)
    for user in users.users:
        if users.is_admin(user):
            return user.token
    raise ValueError(f"{path}: no administrator has a token in this users file")


def identify(call: Call) -> User:
    """The user behind the request's bearer token (401 if none or unknown)."""
    user = call.state.users.find(call.bearer())
    if user is None:
        raise HttpError("failed to query GitHub for user identity: Bad credentials", 401)
    return user


def require_admin(call: Call) -> User:
    """The user, who must be an administrator (403 otherwise)."""
    user = identify(call)
    if not call.state.users.is_admin(user):
        raise HttpError("user is not an administrator", 403)
    return user


def _github_user(call: Call) -> User | None:
    auth = call.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token:
        return None
    return call.state.users.find(token)


def github_user(call: Call) -> Response:
    """``GET /github/user``: GitHub's answer for the token's user, so clients can validate tokens offline."""
    user = _github_user(call)
    if user is None:
        return JSONResponse({"message": "Bad credentials", "status": "401"}, status_code=401)
    return JSONResponse({"login": user.login, "type": "User"})


def github_user_orgs(call: Call) -> Response:
    """``GET /github/user/orgs``: the token's organizations, GitHub-shaped."""
    user = _github_user(call)
    if user is None:
        return JSONResponse({"message": "Bad credentials", "status": "401"}, status_code=401)
    return JSONResponse([{"login": org} for org in user.orgs])
