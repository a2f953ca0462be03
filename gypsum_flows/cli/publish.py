"""``gypsum-flows publish SPEC`` (runs the ``publish-batch`` flow) and ``gypsum-flows check SPEC`` (no upload).

Both validate the whole spec and every local metadata file first, print a
readable summary and exit non-zero on any failure. ``check`` is pure
validation and never imports Prefect; ``publish`` starts Prefect as every
command does (:mod:`.prefect_startup`). An asset with invalid metadata is
reported failed and the others are published, unless ``--strict`` (or
``strict: true`` in the spec), which publishes nothing if any asset is invalid.

The server and token are found as the client finds them (``GYPSUM_REST_URL``,
``GYPSUM_TOKEN``, the cached token), or from ``--url`` and ``--token-env`` (the *name* of an
environment variable holding the token, so no token ever appears in a command
line), or from a saved ``GypsumCredentials`` block (``--credentials-block``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import GypsumAuthError
from . import prefect_startup
from ._common import About, add_command

PUBLISH = About(
    "publish every asset of a YAML batch spec (the publish-batch flow)",
    "Validate the spec and its metadata, then publish each asset through the publish-batch flow. "
    "Re-running is safe: published versions are reported as unchanged.",
)
CHECK = About(
    "validate a batch spec and all its local metadata without uploading",
    "Validate the spec (names, folders, duplicates, keys) and every metadata file it would publish. "
    "With --url, also check that its projects exist on that server (exit 1 if one is missing and undeclared).",
)

EXAMPLES = """examples:
  gypsum-flows check deployments/specs/scrnaseq.yaml
  GYPSUM_TOKEN=... gypsum-flows publish deployments/specs/scrnaseq.yaml --url http://127.0.0.1:8787
  gypsum-flows publish specs/release.yaml --url https://gypsum.artifactdb.com --token-env RELEASE_TOKEN
  gypsum-flows publish specs/release.yaml --credentials-block production-gypsum --json   # the block names its URL
  gypsum-flows publish /shared/release.yaml --fan-out --credentials-block production-gypsum
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``publish`` and ``check`` commands."""
    publish = add_command(subparsers, "publish", PUBLISH, run_publish)
    _spec_arguments(publish)
    publish.add_argument(
        "--token-env",
        metavar="VAR",
        help="environment variable holding the token (default: GYPSUM_TOKEN, else the cached token)",
    )
    publish.add_argument("--credentials-block", metavar="NAME", help="use this saved GypsumCredentials block")
    publish.add_argument("--concurrency", type=int, metavar="N", help="assets published at once")
    publish.add_argument(
        "--no-recover", action="store_true", help="do not clear an interrupted upload of a version this batch publishes"
    )
    publish.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="all or nothing: publish nothing if any asset's metadata is invalid",
    )
    publish.add_argument("--verbose", "-v", action="store_true", help="show Prefect's logs of every run")
    publish.add_argument("--json", action="store_true", help="print the per-asset outcomes as JSON")
    publish.add_argument(
        "--fan-out",
        action="store_true",
        default=None,
        help="publish each asset as its own run of the per-asset deployment, on any worker of "
        "its pool (needs PREFECT_API_URL; default: the spec's fan_out)",
    )
    publish.add_argument(
        "--asset-deployment",
        metavar="FLOW/NAME",
        default="publish-asset/default",
        help="the per-asset deployment --fan-out starts (default: %(default)s)",
    )

    _spec_arguments(add_command(subparsers, "check", CHECK, run_check))


def _spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The spec, the server and cache it is checked against, and whether its folders may lie outside it."""
    parser.add_argument("spec", help="path of the YAML batch spec")
    parser.add_argument("--url", help="gypsum server URL (default: GYPSUM_REST_URL, else the public instance)")
    parser.add_argument("--cache-dir", help="gypsum cache folder (default: GYPSUM_CACHE_DIR or the shared one)")
    parser.add_argument(
        "--allow-outside",
        action="store_true",
        help="accept folders outside the spec's own folder (absolute, ../, symlinks leading out)",
    )


def _check(args: argparse.Namespace) -> tuple[Any, dict[int, list[Any]]]:
    from ..batch import load_and_validate
    from ..client.metadata import fetch_metadata_schema

    return load_and_validate(
        args.spec,
        fetch_schema=lambda name: fetch_metadata_schema(name, cache_dir=args.cache_dir),
        allow_outside=args.allow_outside,
    )


def run_check(args: argparse.Namespace) -> int:
    """Validate the spec and its metadata; print what would be published, and every problem."""
    from ..batch import SpecError

    spec, invalid = _check(args)
    if invalid:
        raise SpecError([problem for found in invalid.values() for problem in found])
    print(f"{args.spec}: OK, {len(spec.assets)} assets")
    if args.url:
        from ..blocks import GypsumCredentials
        from ._projects import missing_projects

        declared = {p.name for p in spec.projects}
        missing = missing_projects(spec, GypsumCredentials(url=args.url).get_client())
        for name in missing:
            what = "publish will create it (needs an admin's token)" if name in declared else "publish will fail"
            print(f"  project '{name}' does not exist on {args.url}: {what}")
        if set(missing) - declared:
            return 1
    for job in spec.assets:
        clone = job.clone
        source = job.directory if clone is None else f"clone of {clone.project}/{clone.asset}/{clone.version}"
        print(f"  {job.label}  <- {source}")
    if spec.outside:
        print(f"{len(spec.outside)} folders outside the spec's folder (allowed by --allow-outside):")
        for field, folder in spec.outside:
            print(f"  {field}: {folder}")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    """Check the spec (before importing Prefect), run publish-batch, print the per-asset summary."""
    from ..batch import SpecError

    spec, invalid = _check(args)
    fan_out = spec.fan_out if args.fan_out is None else args.fan_out
    if fan_out and not args.credentials_block and (args.url or args.token_env or args.cache_dir):
        raise GypsumAuthError(
            "--fan-out: workers load the credentials by name; save a GypsumCredentials block "
            "and pass --credentials-block NAME instead of --url/--token-env/--cache-dir"
        )
    problems = [problem for found in invalid.values() for problem in found]
    if problems and (args.strict or spec.strict):
        raise SpecError(problems)
    if problems:
        print(
            f"{len(invalid)} of {len(spec.assets)} assets have invalid metadata and will not be published "
            "(--strict publishes nothing then):",
            *(f"  {p}" for p in problems),
            sep="\n",
            file=sys.stderr,
        )
    prefect_startup.prepare(verbose=args.verbose)  # before anything imports Prefect (the block below does)
    credentials = _credentials(args)
    _create_projects(spec, credentials)
    from ..flows import BatchFailedError, publish_batch

    prefect_startup.announce()
    try:
        outcomes = publish_batch(
            args.spec,
            concurrency=args.concurrency,
            recover_interrupted_upload=not args.no_recover,
            credentials=credentials,
            strict=args.strict,
            allow_outside=args.allow_outside,
            fan_out=fan_out,
            asset_deployment=args.asset_deployment,
        )
        code = 0
    except BatchFailedError as exc:
        outcomes, code = exc.outcomes, 1
    finally:
        prefect_startup.shutdown()
    _print_outcomes(outcomes, args.json)
    return code


def _create_projects(spec: Any, credentials: Any) -> None:
    """Create the projects the spec declares and the server lacks, saying so."""
    from ..flows.credentials import resolve_credentials
    from ._projects import create_declared

    for line in create_declared(spec, resolve_credentials(credentials).get_client()):
        print(line, flush=True)


def _credentials(args: argparse.Namespace) -> Any:
    """A block name, or a block built from the flags (the token read from the named variable)."""
    if args.credentials_block:
        return args.credentials_block
    from ..blocks import GypsumCredentials

    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise GypsumAuthError(f"--token-env {args.token_env}: that environment variable is empty or unset")
    return GypsumCredentials(url=args.url, token=token, cache_dir=args.cache_dir)


def _print_outcomes(outcomes: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps([o.model_dump() for o in outcomes], indent=2))
        return
    width = max((len(o.label) for o in outcomes), default=10)
    print(f"{'version':<{width}}  {'outcome':<9}  {'sent':>5}  {'linked':>6}  {'bytes':>10}  detail")
    for o in outcomes:
        first, *rest = o.detail.splitlines() or [""]
        print(
            f"{o.label:<{width}}  {o.outcome:<9}  {o.files_uploaded:>5}  {o.files_linked:>6}  "
            f"{o.bytes_uploaded:>10}  {first}"
        )
        for line in rest + ([f"hint: {o.hint}"] if o.hint else []):
            print(f"{'':<{width}}  {line}")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()))
