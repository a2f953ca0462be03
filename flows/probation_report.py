"""Example to copy: every version of a project that waits on probation, as a table artifact of the run.

A composition of the gypsum tasks (``list_assets``, ``list_versions``, then ``fetch_summary`` mapped
over every version at once) in a flow of your own: who uploaded each probational version and when, for
an owner to approve or reject (``gypsum-flows probation approve|reject``). It changes nothing.

Run it once, as written::

    python flows/probation_report.py URL PROJECT
"""

from __future__ import annotations

import sys

from prefect import flow, unmapped
from prefect.artifacts import create_table_artifact

from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.flows.report import artifact_key
from gypsum_flows.tasks import fetch_summary, list_assets, list_versions


@flow(name="probation-report", flow_run_name="probation-report-{project}")
def probation_report(project: str, credentials: GypsumCredentials | None = None) -> list[dict[str, str]]:
    """One row (asset, version, uploader, uploaded) per probational version of ``project``, also as a table.

    Example::

        rows = probation_report("scrnaseq", GypsumCredentials(url="http://127.0.0.1:8787"))
    """
    versions = [
        (asset, version)
        for asset in list_assets(project, credentials=credentials)
        for version in list_versions(project, asset, credentials=credentials)
    ]
    assets, names = [a for a, _ in versions], [v for _, v in versions]
    summaries = fetch_summary.map(project, assets, names, credentials=unmapped(credentials))
    rows = [
        {
            "asset": asset,
            "version": version,
            "uploader": summary["upload_user_id"],
            "uploaded": summary["upload_finish"].isoformat(),
        }
        for (asset, version), summary in zip(versions, summaries.result(raise_on_failure=False), strict=True)
        # A partial version has no summary yet (a failed read), or one without upload_finish.
        if isinstance(summary, dict) and summary.get("on_probation") and summary.get("upload_finish")
    ]
    create_table_artifact(rows, key=artifact_key("probation", project), description=f"On probation in {project}")
    return rows


if __name__ == "__main__":
    url, project = sys.argv[1:3]
    for row in probation_report(project, GypsumCredentials(url=url)):
        print(row["asset"], row["version"], row["uploader"], row["uploaded"])
