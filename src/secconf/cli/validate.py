"""`secconf validate`: the CI gate."""

from __future__ import annotations

from typing import cast

import click

from secconf.cli.common import check_selection, environment_options, open_project
from secconf.cli.report import REPORTERS
from secconf.core.errors import ExitCode
from secconf.validate.findings import Severity


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
    from secconf.operations.validate import validate_environments
    from secconf.validate import RULES

    if list_rules:
        for rule in RULES.values():
            click.echo(f"{rule.code}  {rule.name:<30} {rule.summary}")
        return int(ExitCode.OK)
    check_selection(envs, all_)
    result = validate_environments(open_project(ctx), envs, all_=all_, offline=offline)
    click.echo(REPORTERS[fmt](result.reports), nl=False)
    return int(ExitCode.FINDINGS if result.fails(cast(Severity, fail_on)) else ExitCode.OK)
