"""`secconf validate`: the CI gate."""

from __future__ import annotations

import click

from secconf.cli.common import environment_options, open_project, selected
from secconf.cli.report import REPORTERS, EnvironmentReport
from secconf.core.errors import ExitCode


@click.command()
@environment_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(REPORTERS)),
    default="text",
    show_default=True,
    help="text for people; json for scripts; github for workflow annotations; "
    "sarif for code scanning.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Do not read the secret stores (no master key or Vault token needed); "
    "generated keys are then reported as not checked.",
)
@click.option("--list-rules", is_flag=True, help="List the rules and their codes, then exit.")
@click.pass_context
def validate(
    ctx: click.Context,
    envs: tuple[str, ...],
    all_: bool,
    fmt: str,
    fail_on: str,
    offline: bool,
    list_rules: bool,
) -> int:
    """Check environments against the schema and the application's rules.

    Without --env, every environment is checked. Exit 0 when no finding reaches
    --fail-on, 1 when one does, 2 on bad input (malformed YAML, unknown environment...).

    \b
    Examples:
      secconf validate --all
      secconf validate --env production --format json
      secconf validate --all --format github   # in a GitHub Actions step
    """
    from secconf.operations.prepare import read_stored
    from secconf.validate import RULES, shared_key_files
    from secconf.validate import validate as run_rules

    if list_rules:
        for rule in RULES.values():
            click.echo(f"{rule.code}  {rule.name:<30} {rule.summary}")
        return int(ExitCode.OK)
    project = open_project(ctx)
    environments = selected(project, envs, all_)
    # Comparing key files reads every environment: only when a production one is checked.
    sharing = shared_key_files(project) if any(e.production for e in environments) else {}
    reports: list[EnvironmentReport] = []
    for environment in environments:
        stored = None if offline else read_stored(project, environment)[0]
        config = project.resolve(environment, stored=stored)
        shared = sharing.get(environment.name, ())
        reports.append(
            EnvironmentReport(environment.name, run_rules(config, shares_key_with=shared))
        )
    click.echo(REPORTERS[fmt](reports), nl=False)
    failing = {"error"} if fail_on == "error" else {"error", "warning"}
    failed = any(f.severity in failing for r in reports for f in r.findings)
    return int(ExitCode.FINDINGS if failed else ExitCode.OK)
