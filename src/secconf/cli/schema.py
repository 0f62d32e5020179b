"""`secconf schema show|export|usage`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from secconf.cli.common import OUTPUT_PATH, open_project, write_output

if TYPE_CHECKING:
    from secconf.operations.usage import UsageReport


@click.group()
def schema() -> None:
    """Show the schema's variables, or export a JSON Schema for environment files."""


@schema.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def show(ctx: click.Context, fmt: str) -> int:
    """List every variable with its section, type, default, sensitivity and generator."""
    from secconf.schema.docs import HIDDEN_DEFAULT, default_cell

    project = open_project(ctx)
    variables = list(project.schema.variables.values())
    if fmt == "json":
        rows = [v.dump(mode="json", exclude_none=True) for v in variables]
        for row, v in zip(rows, variables, strict=True):
            if v.sensitive and v.default_text():
                row["default"] = HIDDEN_DEFAULT
        click.echo(json.dumps({"variables": rows}, indent=2, ensure_ascii=False))
        return 0
    width = max(len(v.name) for v in variables)
    for v in variables:
        flags = [
            "sensitive" if v.sensitive else "",
            f"generated:{v.generator.kind}" if v.generator else "",
        ]
        extra = " ".join(f for f in flags if f)
        click.echo(
            f"{v.name:<{width}}  {v.type:<7}  default={default_cell(v):<26} {extra}".rstrip()
        )
        click.echo(f"{'':<{width}}  {v.section}: {v.description}")
    return 0


@schema.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json-schema"]),
    default="json-schema",
    show_default=True,
)
@click.option("--out", type=OUTPUT_PATH, help="Write to a file.")
@click.pass_context
def export(ctx: click.Context, fmt: str, out: Path | None) -> int:
    """Print a JSON Schema (2020-12) for environments/*.yaml.

    \b
    For yaml-language-server (VS Code's YAML extension), put this line at the top
    of an environment file:
      # yaml-language-server: $schema=../environment.schema.json
    """
    from secconf.environment.jsonschema import environment_json_schema

    project = open_project(ctx)
    document = environment_json_schema(project.schema, project.environments.settings)
    text = json.dumps(document, indent=2) + "\n"
    write_output(text, out)
    return 0


@schema.command()
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def usage(ctx: click.Context, paths: tuple[Path, ...], fmt: str) -> int:
    """Compare the variables Python code reads with the schema (exit 1: undeclared ones).

    Reads the sources with `ast` (nothing is imported or run): os.environ[...],
    os.environ.get, os.getenv, and the fields of pydantic-settings classes with their
    env_prefix. Reports each name the code reads that the schema does not declare
    (exit 1), and the schema's variables no code reads. A file that cannot be parsed is
    named, and makes the exit code 2.
    """
    from secconf.core.errors import ExitCode
    from secconf.operations.usage import schema_usage

    report = schema_usage(open_project(ctx), list(paths))
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _usage_text(report)
    if report.problems:
        return int(ExitCode.BAD_INPUT)
    return int(ExitCode.FINDINGS if report.undeclared else ExitCode.OK)


def _usage_text(report: UsageReport) -> None:
    for read in report.undeclared:
        click.echo(f"{read.file}:{read.line}: {read.name} is read but not in the schema")
    for name in report.unread:
        click.echo(f"schema: {name} is not read by the code")
    for problem in report.problems:
        where = f"{problem.file}:{problem.line}" if problem.line else problem.file
        click.echo(f"secconf: error: {where}: {problem.reason}", err=True)
    click.echo(
        f"{report.files} files: {len(report.undeclared)} reads not in the schema, "
        f"{len(report.unread)} schema variables not read",
        err=True,
    )
