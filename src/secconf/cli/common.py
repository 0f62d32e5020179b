"""Options and helpers that several subcommands share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from secconf.cli.app import Options
from secconf.core.errors import SecconfError
from secconf.environment.loader import Environment
from secconf.operations.project import Project

F = TypeVar("F", bound=Callable[..., Any])


def environment_options(func: F) -> F:
    """`--env NAME` (repeatable) and `--all`; neither means every environment."""
    func = click.option(
        "--all", "all_", is_flag=True, help="Every environment (the default when no --env)."
    )(func)
    func = click.option(
        "--env",
        "-e",
        "envs",
        multiple=True,
        metavar="NAME",
        help="An environment (file environments/NAME.yaml); repeat for several.",
        shell_complete=complete_environment,
    )(func)
    return func


def complete_environment(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion for --env: the environment names of the config repo."""
    root = ctx.find_root().params.get("root")
    try:
        names = Project.open(root).environments.names()
    except SecconfError:
        return []
    return [name for name in names if name.startswith(incomplete)]


def open_project(ctx: click.Context) -> Project:
    """The config repo of this run (--root, or found upward from the working directory)."""
    options: Options = ctx.find_object(Options) or Options()
    return Project.open(options.root)


def selected(project: Project, envs: tuple[str, ...], all_: bool) -> list[Environment]:
    """The environments chosen by --env/--all."""
    if envs and all_:
        raise click.UsageError("give --env NAME or --all, not both")
    return project.select(envs, all_=all_)


def write_output(text: str, out: Path | None) -> None:
    """Write `text` to `out`, or to stdout when `out` is None or `-`."""
    if out is None or str(out) == "-":
        click.echo(text, nl=False)
        return
    from secconf.core.files import write_atomic

    write_atomic(out, text.encode("utf-8"), mode=0o644)
    click.echo(f"wrote {out}", err=True)


def confirm(message: str, yes: bool) -> None:
    """Show what is about to happen; go on with --yes or a "y" at a terminal, else refuse."""
    click.echo(message, err=True)
    if yes:
        return
    if not sys.stdin.isatty():
        raise SecconfError(
            "refusing to go on without confirmation: not on a terminal",
            hint="pass --yes to confirm",
        )
    if not click.confirm("Go ahead?", default=False, err=True):
        raise SecconfError("nothing changed", hint="pass --yes to confirm without a prompt")
