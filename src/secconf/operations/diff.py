"""`secconf diff ENV_A ENV_B`: two environments compared variable by variable."""

from __future__ import annotations

from secconf.audit.diff import DiffRow, compare
from secconf.operations.prepare import resolve_for_reading
from secconf.operations.project import Project


def diff_environments(project: Project, left: str, right: str, *, offline: bool) -> list[DiffRow]:
    """Every schema variable of both environments; sensitive values by fingerprint,
    under one key for both sides so that equal values show equal fingerprints."""
    sides = [
        resolve_for_reading(project, project.environments.get(name), offline=offline)
        for name in (left, right)
    ]
    key = sides[0][1].fingerprint_key or sides[1][1].fingerprint_key
    return compare(sides[0][0], sides[1][0], key)
