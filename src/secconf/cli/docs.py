"""`secconf docs`: Markdown documentation of the schema."""

from __future__ import annotations

from pathlib import Path

import click

from secconf.cli.common import open_project, write_output


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option("--title", default="Configuration reference", show_default=True)
@click.pass_context
def docs(ctx: click.Context, out: Path | None, title: str) -> int:
    """Write Markdown documentation generated from the schema.

    One table per section (Variable, Default, Sensitive, Description), with each
    section's description and warnings, so the docs cannot drift from the schema.
    """
    from secconf.schema.docs import render_markdown

    project = open_project(ctx)
    write_output(render_markdown(project.schema, title=title), out)
    return 0
