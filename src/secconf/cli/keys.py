"""`secconf keys ensure|status|rotate|rollback`: generated keys, generated once."""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from secconf.cli.common import (
    check_selection,
    confirm,
    environment_options,
    notice,
    open_project,
    print_error,
)
from secconf.core.errors import ExitCode
from secconf.keys.lifecycle import KeyReport


def _print(reports: list[KeyReport], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"keys": [r.to_dict() for r in reports]}, indent=2))
        return
    for r in reports:
        version = f"v{r.version}" if r.version else "-"
        fp = r.fingerprint or "-"
        click.echo(
            f"{r.environment:<12} {r.variable:<22} {r.status:<11} {version:<4} "
            f"fp {fp:<8}  {r.backend}: {r.location}"
        )


format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)


@click.group()
def keys() -> None:
    """Generate keys once, show them by fingerprint, rotate and roll back on purpose.

    Keys are what the environment files mark `{generate: true}` (JWT signing secret,
    VAPID key pair). Values are never printed: a fingerprint identifies each.
    """


@keys.command()
@environment_options
@format_option
@click.pass_context
def ensure(ctx: click.Context, envs: tuple[str, ...], all_: bool, fmt: str) -> int:
    """Generate whatever is `generate: true` and not stored yet; keep the rest.

    Idempotent: a second run reports every key as "kept". Safe to run from many
    machines at once: exactly one value is created.
    """
    from secconf.operations.keys import ensure_environments

    check_selection(envs, all_)
    project = open_project(ctx, writing=True)
    result = ensure_environments(project, envs, all_=all_, notify=notice)
    for name, error in result.failures:
        print_error(error, prefix=f"{name}: ")
    _print(result.reports, fmt)
    return int(ExitCode.BAD_INPUT if result.failures else ExitCode.OK)


@keys.command()
@environment_options
@format_option
@click.pass_context
def status(ctx: click.Context, envs: tuple[str, ...], all_: bool, fmt: str) -> int:
    """Per generated variable: stored or missing, version, created_at, fingerprint, backend."""
    from secconf.operations.keys import key_statuses

    check_selection(envs, all_)
    reports = key_statuses(open_project(ctx), envs, all_=all_, notify=notice)
    if fmt == "json":
        _print(reports, fmt)
        return 0
    for r in reports:
        when = r.created_at or "-"
        click.echo(
            f"{r.environment:<12} {r.variable:<22} {r.status:<8} "
            f"{('v' + str(r.version)) if r.version else '-':<4} {when:<21} "
            f"fp {r.fingerprint or '-':<8} prev {r.previous_versions}  {r.backend}: {r.location}"
        )
    return 0


def _change(
    ctx: click.Context, variable: str, env: str, yes: bool, fmt: str, *, rollback: bool
) -> int:
    """Rotate or roll back `variable`'s group, after saying what it breaks."""
    from secconf.operations.keys import change_key, change_warning

    project = open_project(ctx, writing=True)
    confirm(change_warning(project, env, variable, rollback=rollback), yes)
    _print(change_key(project, env, variable, rollback=rollback, notify=notice), fmt)
    return 0


def _key_change_command(func: Callable[..., int]) -> Callable[..., int]:
    """The arguments rotate and rollback share."""
    func = click.pass_context(func)
    func = format_option(func)
    func = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")(func)
    func = click.option(
        "--env", "-e", "env", required=True, metavar="NAME", help="The environment."
    )(func)
    func = click.argument("variable")(func)
    return keys.command()(func)


@_key_change_command
def rotate(ctx: click.Context, variable: str, env: str, yes: bool, fmt: str) -> int:
    """Replace a generated key (and the other half of its pair) with a new one.

    Says first what the rotation breaks; the previous version is kept, so
    `secconf keys rollback` can bring it back.
    """
    return _change(ctx, variable, env, yes, fmt, rollback=False)


@_key_change_command
def rollback(ctx: click.Context, variable: str, env: str, yes: bool, fmt: str) -> int:
    """Bring back the key (pair) a rotation replaced, as a new version."""
    return _change(ctx, variable, env, yes, fmt, rollback=True)
