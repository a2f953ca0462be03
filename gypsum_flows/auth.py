"""GitHub tokens for gypsum: resolution, the shared token file and the OAuth flow (section 4.6 of docs/gypsum-api.md).

A token is looked up in this order: the explicit argument, the in-memory
cache, the token file ``{cache}/credentials/token.txt`` (shared with
gypsum_client and the R client: three lines ``token``, ``login``, ``expiry``
in Unix seconds or ``inf``; mode 0600), then ``GYPSUM_TOKEN``, then
``GITHUB_TOKEN``. :func:`set_access_token` validates a token against GitHub
(or a GitHub-compatible URL such as the local server's ``/github``) and
caches it; ``token="auto"`` runs the browser OAuth flow for interactive use.

Tokens never appear in logs, reprs or exception messages: the dictionaries
returned here mask the token in their ``repr``.

Example:
    >>> info = TokenInfo(token="s3cr3t", name="alice", expires=float("inf"))
    >>> "s3cr3t" in repr(info)
    False
"""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import math
import os
import secrets
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlparse

from filelock import FileLock

from . import _http
from .cache import cache_directory
from .constants import CREDENTIALS_CACHE_NAME, ENV_GITHUB_TOKEN, ENV_TOKEN, LOCK_SUFFIX
from .errors import GypsumAuthError, GypsumHTTPError

DEFAULT_GITHUB_URL = "https://api.github.com"
DEFAULT_GITHUB_LOGIN_URL = "https://github.com"
#: The port of the OAuth callback listener, as in gypsum_client and the R client.
OAUTH_PORT = 1410
_EXPIRY_HEADER = "github-authentication-token-expiration"

#: Validated tokens held in memory, by cache folder ("" when not cached on disk).
_memory: dict[str, TokenInfo] = {}
_memory_lock = threading.Lock()


class TokenInfo(dict):
    """``{"token", "name", "expires"}`` as gypsum_client returns it, with the token masked in ``repr``."""

    def __repr__(self) -> str:
        shown = {**self, "token": "***"} if "token" in self else dict(self)
        return f"TokenInfo({shown!r})"

    __str__ = __repr__


def _cache_key(cache_dir: str | bool | None) -> str | None:
    """The cache folder to use: ``None`` means the default, ``False`` means no token file."""
    if cache_dir is False:
        return None
    return str(cache_dir) if cache_dir else cache_directory()


def token_file(cache_dir: str) -> str:
    """The token file of a cache folder."""
    return os.path.join(cache_dir, CREDENTIALS_CACHE_NAME, "token.txt")


def _read_token_file(cache_dir: str, limit: float) -> TokenInfo | None:
    """The unexpired token in the token file, if any; an empty file is removed."""
    path = token_file(cache_dir)
    if not os.path.exists(path):
        return None
    with FileLock(path + LOCK_SUFFIX):
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        if not lines:
            os.unlink(path)
            return None
    if len(lines) < 3:
        raise GypsumAuthError(f"malformed token file '{path}': expected 3 lines")
    expires = float(lines[2])
    if expires <= time.time() + limit:
        return None
    return TokenInfo(token=lines[0], name=lines[1], expires=expires)


def _write_token_file(cache_dir: str, info: TokenInfo) -> None:
    """Write the 3-line token file, readable by its owner only from the moment it exists."""
    path = token_file(cache_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with FileLock(path + LOCK_SUFFIX):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join([info["token"], info["name"], str(info["expires"])]))
        os.chmod(path, 0o600)


def _from_environment() -> TokenInfo | None:
    for name in (ENV_TOKEN, ENV_GITHUB_TOKEN):
        value = os.environ.get(name)
        if value:
            return TokenInfo(token=value, name=None, expires=math.inf)
    return None


def access_token(
    full: bool = False,
    request: bool = True,
    cache_dir: str | bool | None = None,
    token_expiration_limit: int = 10,
) -> str | dict | None:
    """The GitHub token to use: memory, token file, ``GYPSUM_TOKEN``, ``GITHUB_TOKEN``, else a new one.

    Args:
        full: Return ``{"token", "name", "expires"}`` instead of the token string.
        request: When nothing is found, run :func:`set_access_token` (interactive only); else return ``None``.
        cache_dir: Cache folder holding the token file; ``None`` is :func:`cache_directory`, ``False`` none.
        token_expiration_limit: Seconds of validity a token must still have to be used.

    Returns:
        The token, its details, or ``None``.

    Example (not run as a doctest: the answer is whatever GYPSUM_TOKEN or GITHUB_TOKEN holds):
        >>> access_token(request=False, cache_dir=False)  # doctest: +SKIP
        'ghp_...'
    """
    key = _cache_key(cache_dir)
    limit = time.time() + token_expiration_limit
    with _memory_lock:
        info = _memory.get(key or "")
        if info is not None and info["expires"] <= limit:
            del _memory[key or ""]
            info = None
    if info is None and key is not None:
        info = _read_token_file(key, token_expiration_limit)
        if info is not None:
            with _memory_lock:
                _memory[key] = info
    if info is None:
        info = _from_environment()
    if info is None and request:
        info = set_access_token(cache_dir=cache_dir)
    if info is None:
        return None
    return info if full else info["token"]


def resolve_token(token: str | None) -> str:
    """``token`` if given, else :func:`access_token`; raises :class:`GypsumAuthError` if none is usable."""
    if token:
        return token
    found = access_token()
    if not found:
        raise GypsumAuthError("no GitHub token: pass token=, call set_access_token() or set GYPSUM_TOKEN")
    return found  # type: ignore[return-value]


def parse_expiry(header: str | None) -> float:
    """Unix seconds from GitHub's token-expiration header (``2024-06-01 12:00:00 UTC``); ``inf`` if absent.

    Example:
        >>> parse_expiry("2024-06-01 12:00:00 UTC")
        1717243200.0
        >>> parse_expiry(None)
        inf
    """
    if not header:
        return math.inf
    text = header.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S %z"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise GypsumAuthError(f"cannot read the token expiry date {text!r}") from exc


def _is_interactive() -> bool:
    return bool(sys.stdin and sys.stdin.isatty()) or "ipykernel" in sys.modules


def _github_app(app_url: str, user_agent: str | None) -> tuple[str, str]:
    headers = {"User-Agent": user_agent} if user_agent else None
    info = _http.request("GET", _http.join_url(app_url, "/credentials/github-app"), headers=headers).json()
    return info["id"], info["secret"]


def _wait_for_code(server: http.server.HTTPServer, state: str) -> str:
    """Serve the OAuth callback until GitHub redirects the browser back with ``?code=``."""
    found: dict[str, str] = {}

    class Callback(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            query = parse_qs(urlparse(self.path).query)
            if query.get("state", [""])[0] == state and query.get("code"):
                found["code"] = query["code"][0]
            self.send_response(200 if found else 400)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<h2>gypsum: authorization received, you can close this tab.</h2>")

        def log_message(self, *args: object) -> None:
            """Silent: the query string holds the one-time code."""

    server.RequestHandlerClass = Callback
    while "code" not in found:
        server.handle_request()
    return found["code"]


def oauth_flow(
    app_key: str,
    app_secret: str,
    *,
    login_url: str = DEFAULT_GITHUB_LOGIN_URL,
    port: int = OAUTH_PORT,
    open_browser: Callable[[str], object] = webbrowser.open,
    timeout: float = 300.0,
) -> str:
    """Run GitHub's OAuth code flow with a callback listener on ``localhost:port``; returns the token.

    Example (not run as a doctest: it opens a browser and waits for a person to log in to GitHub):
        >>> token = oauth_flow("client-id", "client-secret")  # doctest: +SKIP
    """
    state = secrets.token_urlsafe(16)
    server = http.server.HTTPServer(("localhost", port), http.server.BaseHTTPRequestHandler)
    server.timeout = timeout
    try:
        redirect = f"http://localhost:{server.server_address[1]}"
        query = urlencode({"client_id": app_key, "redirect_uri": redirect, "state": state})
        waiter: dict[str, str] = {}
        thread = threading.Thread(target=lambda: waiter.update(code=_wait_for_code(server, state)), daemon=True)
        thread.start()
        open_browser(f"{login_url.rstrip('/')}/login/oauth/authorize?{query}")
        thread.join(timeout)
    finally:
        server.server_close()
    if "code" not in waiter:
        raise GypsumAuthError("GitHub authorization timed out")
    response = _http.request(
        "POST",
        f"{login_url.rstrip('/')}/login/oauth/access_token",
        policy=_http.GUARDED,
        headers={"Accept": "application/json"},
        json={"client_id": app_key, "client_secret": app_secret, "code": waiter["code"], "redirect_uri": redirect},
    )
    token = (response.json(allow_empty=True) or {}).get("access_token")
    if not token:
        raise GypsumAuthError("GitHub did not return an access token")
    return token


def validate_token(token: str, github_url: str = DEFAULT_GITHUB_URL, user_agent: str | None = None) -> TokenInfo:
    """The login and expiry of ``token``, asked of ``github_url``'s ``/user``; :class:`GypsumAuthError` if refused.

    Example (not run as a doctest: it needs a running local server, ``server``, and its admin token):
        >>> validate_token(token, github_url=server.url + "/github")["name"]  # doctest: +SKIP
        'local-admin'
    """
    headers = {"User-Agent": user_agent} if user_agent else None
    try:
        response = _http.request("GET", f"{github_url.rstrip('/')}/user", token=token, headers=headers)
    except GypsumHTTPError as exc:
        raise GypsumAuthError(f"GitHub did not accept the token ({exc.status}: {exc.reason})") from None
    login = response.json()["login"]
    return TokenInfo(token=token, name=login, expires=parse_expiry(response.headers.get(_EXPIRY_HEADER)))


def set_access_token(
    token: str | None = "auto",
    app_url: str | None = None,
    app_key: str | None = None,
    app_secret: str | None = None,
    github_url: str = DEFAULT_GITHUB_URL,
    user_agent: str | None = None,
    cache_dir: str | bool | None = None,
    **oauth: object,
) -> TokenInfo | None:
    """Validate a GitHub token (or obtain one by OAuth) and cache it in memory and in the token file.

    Args:
        token: A token; ``"auto"`` to run the browser OAuth flow (interactive only); ``None`` to forget
            the cached token (the token file included).
        app_url: gypsum REST URL that serves the OAuth app credentials; default :func:`rest_url`.
        app_key: OAuth app client ID (fetched from ``app_url`` if not given).
        app_secret: OAuth app client secret.
        github_url: GitHub API URL used to validate the token (``{url}/user``).
        user_agent: User-Agent for the GitHub and app requests.
        cache_dir: Cache folder for the token file; ``None`` is :func:`cache_directory`, ``False`` none.
        **oauth: Passed to :func:`oauth_flow` (``login_url``, ``port``, ``open_browser``).

    Returns:
        ``{"token", "name", "expires"}``, or ``None`` when forgetting.

    Example (not run as a doctest: it needs a running local server, ``server``, with an ``owner`` user):
        >>> info = set_access_token(server.tokens["owner"], github_url=server.url + "/github",
        ...                         cache_dir=cache)  # doctest: +SKIP
    """
    key = _cache_key(cache_dir)
    if token is None:
        with _memory_lock:
            _memory.pop(key or "", None)
        if key is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(token_file(key))
        return None
    if token == "auto":
        if not _is_interactive():
            raise GypsumAuthError(
                "no token found and not an interactive session: set GYPSUM_TOKEN, run "
                "'gypsum-flows login', or pass the token to set_access_token(token)"
            )
        if not (app_key and app_secret):
            app_key, app_secret = _github_app(_http.resolve_url(app_url), user_agent)
        token = oauth_flow(app_key, app_secret, **oauth)  # type: ignore[arg-type]
    info = validate_token(token, github_url, user_agent)
    if key is not None:
        _write_token_file(key, info)
    with _memory_lock:
        _memory[key or ""] = info
    return info
