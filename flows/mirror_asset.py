"""Example to copy: every version of an asset copied from one gypsum server to another, as one Prefect flow.

A composition of the gypsum tasks (``list_versions``, ``fetch_summary``, ``save_version``,
``upload_version``), each a task run of its own with the tasks' retries, in a flow of your own. The
versions the target lacks are copied in the order they were finished on the source, each on probation
if it is on probation there; files identical to the target's latest version become links (the
upload's deduplication), and a re-run copies nothing. The project must exist on the target (an admin
creates it), and the target's token may upload to it.

Give the source its own cache folder: the gypsum cache is laid out by project, asset and version, not by
server.

Run it once, as written (``--source-cache`` defaults to a folder of its own)::

    GYPSUM_TOKEN=<target token> python flows/mirror_asset.py SOURCE_URL TARGET_URL PROJECT ASSET
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from prefect import flow, unmapped

from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.tasks import fetch_summary, list_versions, save_version, upload_version


@flow(name="mirror-asset", flow_run_name="mirror-asset-{project}-{asset}")
def mirror_asset(project: str, asset: str, source: GypsumCredentials, target: GypsumCredentials) -> list[str]:
    """Copy the finished versions of ``project/asset`` that ``target`` lacks from ``source``; returns them.

    Example::

        mirror_asset("scrnaseq", "zeisel-brain",
                     source=GypsumCredentials(url="https://gypsum.artifactdb.com", cache_dir="/tmp/public"),
                     target=GypsumCredentials.load("local-gypsum"))
    """
    present = set(list_versions(project, asset, credentials=target))
    missing = [v for v in list_versions(project, asset, credentials=source) if v not in present]
    summaries = fetch_summary.map(project, asset, missing, credentials=unmapped(source))
    finished = []
    for version, summary in zip(missing, summaries.result(raise_on_failure=False), strict=True):
        if isinstance(summary, dict) and summary.get("upload_finish"):  # a partial version is not copied
            finished.append((summary["upload_finish"], version, bool(summary.get("on_probation"))))
    finished.sort()
    for _, version, probation in finished:
        saved = save_version(project, asset, version, credentials=source)
        with tempfile.TemporaryDirectory(prefix="gypsum-mirror-") as scratch:
            # The saved copy also holds the version's own files (..manifest, ..summary, ..links): not uploaded.
            work = shutil.copytree(saved, Path(scratch) / version, ignore=shutil.ignore_patterns("..*"))
            upload_version(str(work), project, asset, version, probation=probation, credentials=target)
    return [version for _, version, _ in finished]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Copy the versions of an asset another gypsum server lacks.")
    parser.add_argument("source_url")
    parser.add_argument("target_url")
    parser.add_argument("project")
    parser.add_argument("asset")
    parser.add_argument("--source-cache", help="the source's cache folder (default: a new temporary one)")
    args = parser.parse_args()
    source_cache = args.source_cache or tempfile.mkdtemp(prefix="gypsum-mirror-")
    source = GypsumCredentials(url=args.source_url, cache_dir=source_cache)
    print(mirror_asset(args.project, args.asset, source, GypsumCredentials(url=args.target_url)))
