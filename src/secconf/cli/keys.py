"""`secconf keys ensure|status|rotate|rollback`: generated keys, generated once."""

from __future__ import annotations

import json

import click

from secconf.cli.common import confirm, environment_options, open_project, selected
from secconf.errors import ExitCode, SecconfError
from secconf.keys.lifecycle import KeyReport


def notice(message: str) -> None:
    """A notice for the person at the terminal (stderr, so stdout stays parseable)."""
    click.echo(f"secconf: {message}", err=True)


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
    from secconf.keys.lifecycle import ensure_keys
    from secconf.store import open_store

    project = open_project(ctx)
    # Non-production first: the first write of a non-production store may create the
    # shared master key file, which production then uses but never creates.
    environments = sorted(selected(project, envs, all_), key=lambda e: e.production)
    reports: list[KeyReport] = []
    failed = False
    for environment in environments:
        try:
            store = open_store(project, environment, notify=notice)
            reports += ensure_keys(project, environment, store)
        except SecconfError as exc:
            failed = True
            click.echo(f"secconf: error: {environment.name}: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
    _print(reports, fmt)
    return int(ExitCode.BAD_INPUT if failed else ExitCode.OK)


@keys.command()
@environment_options
@format_option
@click.pass_context
def status(ctx: click.Context, envs: tuple[str, ...], all_: bool, fmt: str) -> int:
    """Per generated variable: stored or missing, version, created_at, fingerprint, backend."""
    from secconf.keys.lifecycle import key_status
    from secconf.store import open_store

    project = open_project(ctx)
    reports: list[KeyReport] = []
    for environment in selected(project, envs, all_):
        reports += key_status(project, environment, open_store(project, environment))
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


@keys.command()
@click.argument("variable")
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option
@click.pass_context
def rotate(ctx: click.Context, variable: str, env: str, yes: bool, fmt: str) -> int:
    """Replace a generated key (and the other half of its pair) with a new one.

    Says first what the rotation breaks; the previous version is kept, so
    `secconf keys rollback` can bring it back.
    """
    from secconf.keys.lifecycle import rotate_key, rotation_group, rotation_impact
    from secconf.store import open_store

    project = open_project(ctx)
    environment = project.environments.get(env)
    _, members = rotation_group(project, environment, variable)
    names = ", ".join(m.name for m in members)
    confirm(
        f"Rotating {names} in {environment.name}: {rotation_impact(members)}.\n"
        "The current version is kept; `secconf keys rollback` restores it.",
        yes,
    )
    store = open_store(project, environment, notify=notice)
    _print(rotate_key(project, environment, store, variable), fmt)
    return 0


@keys.command()
@click.argument("variable")
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option
@click.pass_context
def rollback(ctx: click.Context, variable: str, env: str, yes: bool, fmt: str) -> int:
    """Bring back the key (pair) a rotation replaced, as a new version."""
    from secconf.keys.lifecycle import rollback_key, rotation_group, rotation_impact
    from secconf.store import open_store

    project = open_project(ctx)
    environment = project.environments.get(env)
    _, members = rotation_group(project, environment, variable)
    names = ", ".join(m.name for m in members)
    confirm(
        f"Rolling back {names} in {environment.name} to the version before the last "
        f"rotation: {rotation_impact(members)} (for whatever used the current version).",
        yes,
    )
    store = open_store(project, environment, notify=notice)
    _print(rollback_key(project, environment, store, variable), fmt)
    return 0
