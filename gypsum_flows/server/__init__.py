"""A local gypsum-compatible server on a folder.

Speaks the REST API of gypsum-worker (same paths, JSON shapes, statuses and
reasons) over a bucket stored as files under a root folder, with identities
from a YAML users file instead of GitHub. Independent of the client and of
Prefect.

Example:
    >>> import tempfile, pathlib
    >>> server = serve_in_thread(pathlib.Path(tempfile.mkdtemp()) / "root")
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
"""

from .app import create_app, state_dir
from .run import RunningServer, is_loopback, serve_in_thread
from .users import Users, generate_users_file, load_users

__all__ = [
    "RunningServer",
    "Users",
    "create_app",
    "generate_users_file",
    "is_loopback",
    "load_users",
    "serve_in_thread",
    "state_dir",
]
