"""``gypsum-flows login`` (validate and save a token, as ``set_access_token`` does) and ``gypsum-flows whoami``.

A token is checked against GitHub's ``/user``; for a local server (``--url``
on this machine) against that server's GitHub stand-in, ``{url}/github``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from ..constants import ENV_TOKEN
from ..errors import GypsumAuthError
from ..next_steps import is_local
from ._common import About, add_command, add_connection, emit, token_from

LOGIN = About(
    "check a token and save it for every later command (as set_access_token)",
    "Check a token and save it in the token file shared with gypsum_client and the R client "
    f"({{cache}}/credentials/token.txt, mode 0600). The token comes from --token-env, else {ENV_TOKEN}, "
    "else a hidden prompt.",
)
WHOAMI = About(
    "show which login the current token belongs to",
    "Check the token the other commands would use and print its login.",
)

EXAMPLES = """examples:
  export GYPSUM_TOKEN=$(gypsum-flows server --root ./registry --print-token)
  gypsum-flows login --url http://127.0.0.1:8787      # saves $GYPSUM_TOKEN, checked by the local server
  gypsum-flows whoami --url http://127.0.0.1:8787
  gypsum-flows login --token-env MY_GITHUB_PAT         # a GitHub token, checked by GitHub
  gypsum-flows login --logout
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``login`` and ``whoami``."""
    login = add_command(subparsers, "login", LOGIN, run_login)
    whoami = add_command(subparsers, "whoami", WHOAMI, run_whoami)
    for parser in (login, whoami):
        add_connection(parser)
        parser.add_argument(
            "--github-url",
            help="GitHub API to check the token with (default: {url}/github "
            "for a local server, else https://api.github.com)",
        )
        parser.add_argument("--cache-dir", help="gypsum cache folder holding the token file")
    login.add_argument("--logout", action="store_true", help="forget the saved token instead")


def _github_url(args: argparse.Namespace) -> str:
    from ..auth import DEFAULT_GITHUB_URL
    from ..client import rest_url

    if args.github_url:
        return args.github_url
    url = args.url or rest_url()
    return f"{url.rstrip('/')}/github" if is_local(url) else DEFAULT_GITHUB_URL


def _given_token(args: argparse.Namespace) -> str:
    token = token_from(args) or os.environ.get(ENV_TOKEN)
    if not token and sys.stdin.isatty():
        token = getpass.getpass("gypsum token: ").strip()
    if not token:
        raise GypsumAuthError(f"no token to save: set {ENV_TOKEN}, or name a variable with --token-env")
    return token


def run_login(args: argparse.Namespace) -> int:
    """Validate and save the token (or forget it)."""
    from ..auth import set_access_token

    if args.logout:
        set_access_token(None, cache_dir=args.cache_dir)
        emit(args, {"logged_out": True}, "forgot the saved token")
        return 0
    info = set_access_token(_given_token(args), github_url=_github_url(args), cache_dir=args.cache_dir)
    assert info is not None, "set_access_token returns None only when forgetting (token=None)"
    emit(
        args,
        {"login": info["name"], "expires": info["expires"]},
        f"logged in as {info['name']}; the token is saved for later commands",
    )
    return 0


def run_whoami(args: argparse.Namespace) -> int:
    """Print the login behind the token the commands would use."""
    from ..auth import access_token, validate_token

    token = token_from(args) or access_token(request=False, cache_dir=args.cache_dir)
    if not token:
        raise GypsumAuthError("no token: run 'gypsum-flows login', or set GYPSUM_TOKEN")
    info = validate_token(token, _github_url(args))  # type: ignore[arg-type]
    emit(args, {"login": info["name"], "expires": info["expires"]}, f"{info['name']}")
    return 0
