"""`secconf validate`: every selected environment resolved with what its store holds
(nothing read `offline`) and checked against the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from secconf.environment.loader import Environment
from secconf.operations.prepare import resolve_for_reading
from secconf.operations.project import Project
from secconf.validate.findings import Finding, Severity


class EnvironmentReport(NamedTuple):
    """The findings of one environment."""

    name: str
    findings: list[Finding]


@dataclass(frozen=True)
class ValidationResult:
    """The findings of every environment validated, in order."""

    reports: list[EnvironmentReport]

    def count(self, severity: Severity) -> int:
        """How many findings have this severity."""
        return sum(1 for r in self.reports for f in r.findings if f.severity == severity)

    def fails(self, fail_on: Severity) -> bool:
        """True when a finding reaches `fail_on` (error, or warning and above)."""
        failing = {"error"} if fail_on == "error" else {"error", "warning"}
        return any(f.severity in failing for r in self.reports for f in r.findings)


def validate_environments(
    project: Project, names: Sequence[str], *, all_: bool, offline: bool
) -> ValidationResult:
    """Validate the named environments (every one with `all_` or no names)."""
    from secconf.validate import validate

    environments = project.select(names, all_=all_)
    # Comparing key files reads every environment: only when a production one is checked.
    sharing = shared_key_files(project) if any(e.production for e in environments) else {}
    reports = []
    for environment in environments:
        config, state = resolve_for_reading(project, environment, offline=offline)
        shared = sharing.get(environment.name, ())
        drift = recipients_drift(project, environment)
        findings = validate(
            config, shares_key_with=shared, replay=state.replay, recipients_drift=drift
        )
        reports.append(EnvironmentReport(environment.name, findings))
    return ValidationResult(reports)


def shared_key_files(project: Project) -> dict[str, tuple[str, ...]]:
    """For each production environment with a file store, the non-production
    environments whose file store reads the same master key file."""
    from secconf.store.backends.file import file_settings, uses_file_store

    placement = project.placement
    files: dict[str, tuple[str, bool]] = {}
    for name in project.environments.names():
        env = project.environments.get(name)
        if uses_file_store(env) and file_settings(env).encryption == "master-key":
            files[name] = (str(placement.path(name, "key file")), env.production)
    return {
        name: tuple(o for o, (p, prod) in files.items() if p == path and not prod)
        for name, (path, production) in files.items()
        if production
    }


def recipients_drift(project: Project, environment: Environment) -> str | None:
    """How the environment's age store is sealed unlike its configured recipients (None:
    alike, or no age store). Reads the store's header only: no identity is needed."""
    from secconf.store.backends.file import file_settings, uses_file_store

    if not uses_file_store(environment) or file_settings(environment).encryption != "age":
        return None
    from secconf.store.ciphers import age
    from secconf.store.file import FileStore

    store = project.open_store(environment)
    assert isinstance(store, FileStore)
    header = age.sealed_header(store.peek(), store.location)
    if header is None:
        return None
    return age.drift(age.configured_recipients(project.store_context(environment)), header)
