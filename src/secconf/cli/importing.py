"""`secconf import FILE.env --env NAME`: adopt an existing .env file."""

from __future__ import annotations

from pathlib import Path

import click

from secconf.cli.common import notice, open_project
from secconf.core.errors import ExitCode


@click.command("import")
@click.argument("dotenv_file", metavar="FILE.env", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--env", "-e", "env", required=True, metavar="NAME", help="The environment to import into."
)
@click.option(
    "--yes",
    is_flag=True,
    help="Replace values already in the store that the file gives differently (a rotation).",
)
@click.option(
    "--add-to-schema",
    is_flag=True,
    help="Append the names the schema lacks to schema/90-imported.yaml (type and "
    "sensitivity guessed), then import them.",
)
@click.pass_context
def import_(ctx: click.Context, dotenv_file: Path, env: str, yes: bool, add_to_schema: bool) -> int:
    """Import an existing .env file into an environment (created if it does not exist).

    Non-sensitive values become literals in environments/NAME.yaml; sensitive values
    go into the secret store (never into YAML): keys secconf can generate under
    `{generate: true}`, the others under `{from_store: true}`. Unknown names are
    reported with a did-you-mean hint and exit 1; nothing is dropped silently. Running
    it twice changes nothing the second time. A value already stored differently is
    replaced only with --yes, after saying what replacing it breaks.

    With --add-to-schema, unknown names are appended to schema/90-imported.yaml first:
    a boolean, integer or string as pydantic-settings would read the value, sensitive
    when the name or the value looks secret (*_KEY, *_SECRET, *TOKEN*, *PASSWORD*, a
    private key, a URL with a password, high-entropy text), with a description to write.
    """
    from secconf.operations.importing import import_dotenv

    project = open_project(ctx, writing=True)
    report = import_dotenv(
        project, env, dotenv_file, notify=notice, replace=yes, add_to_schema=add_to_schema
    )
    for added in report.added:
        kind = f"{added.type}, sensitive" if added.sensitive else added.type
        click.echo(f"  {added.name}: added to {report.schema_file} ({kind}): describe it")
    if report.created_file:
        click.echo(f"created {report.env_file}")
    elif report.file_changed:
        click.echo(f"updated {report.env_file}")
    else:
        click.echo(f"{report.env_file} unchanged")
    for name in report.literals:
        click.echo(f"  {name}: literal in {report.env_file}")
    for name, status in report.stored:
        click.echo(f"  {name}: {status} in the secret store")
    for name, hint in report.unknown:
        guess = f" (did you mean {hint}?)" if hint else ""
        click.echo(f"  {name}: not in the schema, not imported{guess}", err=True)
    for name, why in report.skipped:
        click.echo(f"  {name}: not imported: {why}", err=True)
    return int(ExitCode.OK if report.complete else ExitCode.FINDINGS)
