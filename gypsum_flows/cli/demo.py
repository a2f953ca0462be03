"""``gypsum-flows demo``: the whole publication job on this machine, in one command.

Starts the local gypsum server on a new folder (with a generated users file),
runs Prefect on its embedded defaults (an ephemeral API server over SQLite in
a private ``PREFECT_HOME``, started as every command starts it: see
:mod:`.prefect_startup`), creates the example projects, publishes the
example specs (``gypsum_flows/examples``, also reachable as
``deployments/specs``) through the ``publish-batch`` flow, reads one version
back, and prints the per-asset summary and where to see the runs in the
Prefect UI. Everything stays in one folder, so the runs can be browsed later.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GypsumIntegrityError
from . import prefect_startup
from ._common import About, add_command
from .publish import _print_outcomes as print_outcomes

if TYPE_CHECKING:
    from ..flows import Outcome

ABOUT = About(
    "publish the example specs to a local gypsum server through Prefect, end to end",
    "Start a local gypsum server and an embedded Prefect in one folder, publish the example specs "
    "through the publish-batch flow, read a version back and print what happened.",
)

EXAMPLES = """examples:
  gypsum-flows demo                                  # everything in a new temporary folder
  gypsum-flows demo --workdir ./demo                 # keep it here; running again reports 'unchanged'
"""

#: Name under which the demo saves its GypsumCredentials block in its Prefect.
BLOCK_NAME = "gypsum-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    parser = add_command(subparsers, "demo", ABOUT, run)
    parser.add_argument(
        "--workdir", help="folder for the registry, the cache and Prefect (default: a new temporary one)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns 0 when every example version is published (or already was)."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gypsum-flows-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # A configured API would receive the demo's runs and need our block there: the demo is self-contained.
    prefect_startup.prepare(workdir / "prefect")

    from ..server import load_users, serve_in_thread

    print(f"demo folder: {workdir}", flush=True)
    server = serve_in_thread(workdir / "registry", host="127.0.0.1", port=0)
    try:
        user = load_users(server.users_file).users[0]
        print(f"local gypsum server: {server.url} (admin {user.login}, users file {server.users_file})", flush=True)
        try:
            outcomes = publish_examples(server.url, user.login, user.token, workdir / "cache")
        finally:
            prefect_startup.shutdown()
        print()
        print_outcomes(outcomes, as_json=False)
        if any(o.outcome == "failed" for o in outcomes):
            return 1
        print(read_back(outcomes, server.url, workdir / "cache"))
    finally:
        server.stop()
    print_where_to_look(workdir)
    return 0


def example_specs() -> list[Path]:
    """The example specs shipped with the package, in publication order.

    Example:
        >>> [p.name for p in example_specs()]
        ['reference.yaml', 'scrnaseq.yaml']
    """
    folder = resources.files("gypsum_flows") / "examples"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def publish_examples(url: str, login: str, token: str, cache_dir: Path) -> list[Outcome]:
    """Create the example projects and publish every example spec; returns the outcomes of all assets."""
    from ..batch import load_spec
    from ..blocks import GypsumCredentials
    from ..flows import BatchFailedError, publish_batch

    seed_schema_cache(cache_dir)
    prefect_startup.announce()
    credentials = GypsumCredentials(url=url, token=token, cache_dir=str(cache_dir))
    credentials.save(BLOCK_NAME, overwrite=True)
    client = credentials.get_client()
    outcomes: list[Outcome] = []
    for spec in example_specs():
        for project in sorted({job.project for job in load_spec(spec).assets}):
            if project not in client.list_projects():
                client.create_project(project, owners=[login])
        print(f"publishing {spec.name} through publish-batch ...", flush=True)
        try:
            outcomes += publish_batch(str(spec), credentials=BLOCK_NAME)
        except BatchFailedError as exc:
            outcomes += exc.outcomes
    return outcomes


def seed_schema_cache(cache_dir: Path) -> None:
    """Put the shipped metadata schema in the demo's cache, so validation needs no internet."""
    from ..client.metadata import shipped_schema_path

    source = shipped_schema_path()
    if source is None:
        raise FileNotFoundError("the metadata schema shipped with gypsum-flows is missing: reinstall it")
    target = cache_dir / "schemas" / "bioconductor" / "v1.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def read_back(outcomes: list[Outcome], url: str, cache_dir: Path) -> str:
    """Download the first version published from a folder (links resolved) and compare it with that folder.

    Raises:
        GypsumIntegrityError: The downloaded version differs from its source folder.
    """
    from ..batch import load_spec
    from ..client import fetch_manifest, save_version

    jobs = {job.label: job for spec in example_specs() for job in load_spec(spec).assets}
    job, directory = next((jobs[o.label], folder) for o in outcomes if (folder := jobs[o.label].directory))
    listed = set(fetch_manifest(job.project, job.asset, job.version, url=url, cache_dir=str(cache_dir)))
    local = Path(save_version(job.project, job.asset, job.version, url=url, cache_dir=str(cache_dir)))
    differences = version_differences(Path(directory), local, listed)
    if differences:
        raise GypsumIntegrityError(
            f"{job.label} read back into {local} differs from {directory}: " + ", ".join(differences)
        )
    return f"read back {job.label} ({len(listed)} files) into {local}: identical to {directory}"


def version_differences(source: Path, downloaded: Path, listed: set[str]) -> list[str]:
    """Paths missing on either side, or whose downloaded bytes differ from the source folder's.

    Example:
        >>> import tempfile
        >>> a, b = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        >>> _ = (a / "x.txt").write_text("1"), (b / "x.txt").write_text("2"), (a / "y.txt").write_text("3")
        >>> version_differences(a, b, {"x.txt", "z.txt"})
        ['x.txt', 'y.txt', 'z.txt']
    """
    local = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
    changed = {rel for rel in local & listed if not filecmp.cmp(source / rel, downloaded / rel, shallow=False)}
    return sorted((local ^ listed) | changed)


def print_where_to_look(workdir: Path) -> None:
    """How to browse the runs, artifacts and events in the Prefect UI, and to serve the registry again."""
    print(
        "\nSee the flow runs, their table artifacts and the gypsum.version.published events in the Prefect UI:\n"
        f"  PREFECT_HOME={workdir / 'prefect'} prefect server start\n"
        "  then open http://127.0.0.1:4200/runs\n"
        "Serve the published registry again:\n"
        f"  gypsum-flows server --root {workdir / 'registry'}"
    )
