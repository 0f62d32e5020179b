"""`secconf diff ENV_A ENV_B`: what differs between two environments."""

from __future__ import annotations

import json

import click

from secconf.cli.common import open_project
from secconf.core.errors import ExitCode
from secconf.core.redact import printable


@click.command()
@click.argument("left", metavar="ENV_A")
@click.argument("right", metavar="ENV_B")
@click.option("--all-variables", is_flag=True, help="Also list the variables that are the same.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--exit-code", is_flag=True, help="Exit 1 when the environments differ (like git diff)."
)
@click.option("--offline", is_flag=True, help="Do not read the secret stores.")
@click.pass_context
def diff(
    ctx: click.Context,
    left: str,
    right: str,
    all_variables: bool,
    fmt: str,
    exit_code: bool,
    offline: bool,
) -> int:
    """Which variables differ between two environments, e.g. to review a promotion
    from staging to production. Sensitive values show as fingerprints (made with one
    key for both sides, so equal values show equal fingerprints)."""
    from secconf.operations.diff import diff_environments

    rows = diff_environments(open_project(ctx), left, right, offline=offline)
    differing = [r for r in rows if not r.same]
    shown = rows if all_variables else differing
    if fmt == "json":
        click.echo(
            json.dumps(
                {"left": left, "right": right, "variables": [r.to_dict() for r in shown]}, indent=2
            )
        )
    else:
        width = max([len(r.name) for r in shown] + [8])
        click.echo(f"{'variable':<{width}}  {left}  ->  {right}")
        for r in shown:
            mark = "=" if r.same else "~"
            # Stripped here as well as by the output stream, so that columns line up.
            sides = [("(unset)" if v is None else printable(v)) for v in (r.left, r.right)]
            tag = " (fingerprints)" if r.sensitive else ""
            click.echo(f"{mark} {r.name:<{width}}  {sides[0]}  ->  {sides[1]}{tag}")
        click.echo(f"{len(differing)} of {len(rows)} variables differ", err=True)
    return int(ExitCode.FINDINGS if exit_code and differing else ExitCode.OK)
