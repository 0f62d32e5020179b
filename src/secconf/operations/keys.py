"""`secconf keys ensure|status|rotate|rollback`: generated keys over their life."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from secconf.core.errors import SecconfError
from secconf.keys.lifecycle import (
    KeyReport,
    ensure_keys,
    key_status,
    rollback_key,
    rotate_key,
    rotation_group,
    rotation_impact,
)
from secconf.operations.project import Project

Notify = Callable[[str], None]


@dataclass
class EnsureResult:
    """The keys of every environment that could be ensured, and the errors of the rest."""

    reports: list[KeyReport] = field(default_factory=list)
    failures: list[tuple[str, SecconfError]] = field(default_factory=list)


def ensure_environments(
    project: Project, names: Sequence[str], *, all_: bool, notify: Notify
) -> EnsureResult:
    """Generate what each environment asks for and lacks; one failing environment does
    not stop the others."""
    # Non-production first: the first write of a non-production store may create the
    # shared master key file, which production then uses but never creates.
    environments = sorted(project.select(names, all_=all_), key=lambda e: e.production)
    result = EnsureResult()
    for environment in environments:
        try:
            store = project.open_store(environment, notify=notify)
            result.reports += ensure_keys(project.schema, environment, store)
        except SecconfError as exc:
            result.failures.append((environment.name, exc))
    return result


def key_statuses(
    project: Project, names: Sequence[str], *, all_: bool, notify: Notify
) -> list[KeyReport]:
    """Stored or missing, version and fingerprint of every generated variable."""
    reports: list[KeyReport] = []
    for environment in project.select(names, all_=all_):
        store = project.open_store(environment, notify=notify)
        reports += key_status(project.schema, environment, store)
    return reports


def change_warning(project: Project, env: str, variable: str, *, rollback: bool) -> str:
    """What rotating (or rolling back) `variable` in `env` breaks, to show before."""
    environment = project.environments.get(env)
    _, members = rotation_group(project.schema, environment, variable)
    names = ", ".join(m.name for m in members)
    impact = rotation_impact(members)
    if rollback:
        return (
            f"Rolling back {names} in {env} to the version before the last "
            f"rotation: {impact} (for whatever used the current version)."
        )
    return (
        f"Rotating {names} in {env}: {impact}.\n"
        "The current version is kept; `secconf keys rollback` restores it."
    )


def change_key(
    project: Project, env: str, variable: str, *, rollback: bool, notify: Notify
) -> list[KeyReport]:
    """Rotate `variable`'s group (both halves of a pair), or roll it back."""
    environment = project.environments.get(env)
    store = project.open_store(environment, notify=notify)
    change = rollback_key if rollback else rotate_key
    return change(project.schema, environment, store, variable)
