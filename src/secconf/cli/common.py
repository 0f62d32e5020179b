"""Options and helpers that several subcommands share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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


def open_project(ctx: click.Context, *, writing: bool = False) -> Project:
    """The config repo of this run (--root, or found upward from the working directory).

    `writing`: the command writes files, so first remove the temp files that killed
    runs left behind.
    """
    options: Options = ctx.find_object(Options) or Options()
    project = Project.open(options.root)
    if writing:
        project.remove_leftovers()
    return project


if TYPE_CHECKING:
    _PathType = click.ParamType[Path]
else:  # click before 8.2 has no type parameters
    _PathType = click.ParamType


class OutputPath(_PathType):
    """`--out`: `-` (stdout), or a path that does not exist or is a regular file (after
    following symlinks). A device, FIFO, socket or directory is refused before anything
    is read or written: secconf would hang on it or replace it with a file of secrets."""

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        import os
        import stat

        if isinstance(value, Path):
            value = str(value)
        if value == "-":
            return Path("-")
        try:
            info = os.stat(value)
        except FileNotFoundError:
            return Path(value)
        except (OSError, ValueError) as exc:
            self.fail(
                f"{value}: {getattr(exc, 'strerror', None) or 'not a usable path'}", param, ctx
            )
        if not stat.S_ISREG(info.st_mode):
            self.fail(f"{value} is {_kind(info.st_mode)}, not a regular file", param, ctx)
        return Path(value)


def _kind(mode: int) -> str:
    import stat

    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


OUTPUT_PATH = OutputPath()


def notice(message: str) -> None:
    """A notice for the person at the terminal (stderr, so stdout stays parseable)."""
    click.echo(f"secconf: {message}", err=True)


def print_error(exc: SecconfError, *, prefix: str = "") -> None:
    """One error as secconf prints every error: a located line, the findings that
    caused it, and what to do. `prefix` names what failed (an environment)."""
    click.echo(f"secconf: error: {prefix}{exc.location()}{exc.message}", err=True)
    for finding in getattr(exc, "findings", []):
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        click.echo(f"  {where}: {finding.severity} {finding.code} {finding.message}", err=True)
    if exc.hint:
        click.echo(f"  hint: {exc.hint}", err=True)


def check_selection(envs: tuple[str, ...], all_: bool) -> None:
    """--env and --all exclude each other."""
    if envs and all_:
        raise click.UsageError("give --env NAME or --all, not both")


def selected(project: Project, envs: tuple[str, ...], all_: bool) -> list[Environment]:
    """The environments chosen by --env/--all."""
    check_selection(envs, all_)
    return project.select(envs, all_=all_)


def write_output(text: str, out: Path | None) -> None:
    """Write `text` to `out`, or to stdout when `out` is None or `-`."""
    if out is None or str(out) == "-":
        click.echo(text, nl=False)
        return
    import os

    from secconf.core.files import write_atomic


    # Where a symlink points, as `render --out` writes: the link itself stays.
    target = Path(os.path.realpath(out))
    write_atomic(target, text.encode("utf-8"), mode=0o644, shown=str(out))
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
