"""The projects a batch needs: which are missing on the server, and creating the declared ones."""

from __future__ import annotations

from typing import Any

from .. import next_steps
from ..errors import GypsumNotFoundError, GypsumPermissionError


def missing_projects(spec: Any, client: Any) -> list[str]:
    """Projects that the spec declares or publishes into but the server does not have, in spec order."""
    wanted = [p.name for p in spec.projects] + [job.project for job in spec.assets]
    missing = []
    for name in dict.fromkeys(wanted):
        try:
            client.fetch_permissions(name)
        except GypsumNotFoundError:
            missing.append(name)
    return missing


def create_declared(spec: Any, client: Any) -> list[str]:
    """Create the declared projects the server lacks (admins only); returns the lines to print.

    A missing project that the spec does not declare raises the error saying how to create it.
    """
    declared = {p.name: p for p in spec.projects}
    missing = missing_projects(spec, client)
    for name in missing:
        if name not in declared:  # before creating any, so a failing batch creates nothing
            raise GypsumNotFoundError(next_steps.create_project(name) + ", or declare it under 'projects:' in the spec")
    said = []
    for name in missing:
        project = declared[name]
        uploaders = [u.model_dump() for u in project.uploaders]
        try:
            client.create_project(name, owners=project.owners, uploaders=uploaders)
        except GypsumPermissionError as exc:
            raise GypsumPermissionError(
                f"project '{name}' is declared in the spec but missing on the server, and creating it needs an "
                f"admin's token ({exc.reason})",
                status=exc.status,
                method=exc.method,
                url=exc.url,
            ) from None
        said.append(f"created project '{name}' (owners: {', '.join(project.owners)}) as the spec declares it")
    return said
