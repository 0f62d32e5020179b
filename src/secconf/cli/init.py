"""`secconf init [DIR]`: start a config repo."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument(
    "directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
def init(directory: Path) -> int:
    """Create a config repo in DIRECTORY (default: here): the bundled schema, templates,
    three example environments, and a .gitignore that keeps the master key and
    rendered outputs out of git. Refuses to overwrite any existing file."""
    from secconf.operations.init import NEXT_STEPS, init_repo

    written = init_repo(directory)
    click.echo(f"created a secconf config repo in {directory} ({len(written)} files)")
    where = "" if directory == Path(".") else f" (in {directory})"
    click.echo(f"next{where}:")
    for step in NEXT_STEPS:
        click.echo(f"  {step}")
    return 0
