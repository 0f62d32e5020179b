"""`secconf codegen --lang python [--out FILE]`: a typed settings module for the application."""

from __future__ import annotations

from pathlib import Path

import click

from secconf.cli.common import OUTPUT_PATH, open_project, write_output


@click.command()
@click.option(
    "--lang",
    type=click.Choice(["python"]),
    default="python",
    show_default=True,
    help="The language of the module.",
)
@click.option("--out", type=OUTPUT_PATH, help="Write to this file instead of stdout.")
@click.pass_context
def codegen(ctx: click.Context, lang: str, out: Path | None) -> int:
    """Write a settings module generated from the schema.

    Python: a pydantic-settings `BaseSettings` class with a field per variable (its type,
    default, description and constraints; SecretStr for sensitive variables, Literal for
    choices). Regenerating gives the same bytes, so CI can check it is up to date.
    """
    from secconf.operations.codegen import codegen as generate

    write_output(generate(open_project(ctx), lang=lang), out)
    return 0
