"""`secconf store init|rekey|migrate|recipients`: the encrypted file store's keys."""

from __future__ import annotations

import click

from secconf.cli.common import confirm, open_project


@click.group()
def store() -> None:
    """The encrypted file store: its master key, its cipher, its age recipients."""


@store.command()
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.option(
    "--encryption",
    type=click.Choice(["master-key", "age"]),
    default="master-key",
    show_default=True,
    help="age: seal the store to recipients (your identity is created if you have none).",
)
@click.pass_context
def init(ctx: click.Context, env: str, encryption: str) -> int:
    """Create the environment's master key file (mode 0600) if it has no key yet;
    with --encryption age, your age identity (if none) and the age store.

    The only way a production environment gets a new master key: it is never
    created as a side effect. The key is never printed; copy the file to your
    team's password manager and CI secret (see the README). An age identity is
    never printed either: only its public key.
    """
    if encryption == "age":
        return _init_age(ctx, env)
    from secconf.operations.store import init_store_key

    report = init_store_key(open_project(ctx, writing=True), env)
    if report.created:
        click.echo(f"created the master key {report.source} (key check {report.key_check})")
        click.echo(
            "next: keep a copy in your team's password manager; give CI its content as "
            "SECCONF_MASTER_KEY; never commit it"
        )
    else:
        click.echo(
            f"{env} already has a master key from {report.source} (key check {report.key_check})"
        )
    return 0


@store.command()
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rekey(ctx: click.Context, env: str, yes: bool) -> int:
    """Re-encrypt the file store under a new master key, atomically.

    Every store that shares the same key file is re-encrypted with it (a shared key
    can only be replaced for all). Values and versions do not change.
    """
    from secconf.operations.store import rekey_stores

    project = open_project(ctx, writing=True)
    project.environments.get(env)  # an unknown environment is refused before asking
    confirm(
        f"Re-keying the store of {env} (and every store sharing its key file); everyone "
        "and every CI job using the old master key needs the new one afterwards.",
        yes,
    )
    done, key_file = rekey_stores(project, env)
    for name, count in done:
        click.echo(f"{name}: re-encrypted {count} entries under the new master key")
    click.echo(f"the new master key is in {key_file}; update CI's SECCONF_MASTER_KEY from it")
    return 0


def _init_age(ctx: click.Context, env: str) -> int:
    from secconf.operations.store import init_age_store

    report = init_age_store(open_project(ctx, writing=True), env)
    if report.identity_created:
        click.echo(f"created your age identity in {report.identity_created} (mode 0600)")
    click.echo(f"your public key: {report.public_key}")
    if report.env_file_changed:
        click.echo(f"environments/{env}.yaml: the store is now sealed to it (encryption: age)")
    state = "created" if report.store_created else "already exists"
    click.echo(f"the age store of {env} {state}")
    return 0


@store.command()
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.option(
    "--to", "to", required=True, type=click.Choice(["age", "master-key"]), help="The cipher."
)
@click.pass_context
def migrate(ctx: click.Context, env: str, to: str) -> int:
    """Convert the store to the cipher its settings now name, keeping every value,
    version and date (one atomic write). Set `encryption:` (and `recipients:`) first."""
    from secconf.operations.store import migrate_store

    report = migrate_store(open_project(ctx, writing=True), env, to)
    if report.entries == 0 and report.source == report.target:
        click.echo(f"{env}: the store is already encrypted with {report.target}")
    else:
        click.echo(f"{env}: moved {report.entries} entries from {report.source} to {report.target}")
    return 0


@store.group()
def recipients() -> None:
    """Who can decrypt an age store: list them, sync the store to its settings."""


@recipients.command("list")
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def list_(ctx: click.Context, env: str, fmt: str) -> int:
    """The recipients of the store, groups resolved, and whether the store is sealed to
    exactly them (no identity needed)."""
    from secconf.operations.store import list_recipients

    report = list_recipients(open_project(ctx), env)
    sealed = {r.key for r in report.sealed or ()}
    if fmt == "json":
        import json

        data = {
            "environment": report.environment,
            "store": report.store,
            "in_sync": report.in_sync(),
            "recipients": [
                {**r.as_dict(), "sealed": report.sealed is not None and r.key in sealed}
                for r in report.configured
            ],
            "sealed_to": None if report.sealed is None else [r.as_dict() for r in report.sealed],
        }
        click.echo(json.dumps(data, indent=2))
        return 0
    for r in report.configured:
        mark = "" if report.sealed is None or r.key in sealed else "  (not sealed yet: sync)"
        click.echo(f"{r.group or '-':<16} {r.key}{mark}")
    configured = {r.key for r in report.configured}
    for r in report.sealed or ():
        if r.key not in configured:
            click.echo(f"{r.group or '-':<16} {r.key}  (removed: still sealed to it, sync)")
    if report.sealed is None:
        click.echo(f"{report.store} does not exist yet")
    return 0


@recipients.command()
@click.option("--env", "-e", "envs", multiple=True, metavar="NAME", help="An environment.")
@click.option("--all", "all_", is_flag=True, help="Every environment with an age store.")
@click.pass_context
def sync(ctx: click.Context, envs: tuple[str, ...], all_: bool) -> int:
    """Re-wrap the data key to the configured recipients. Adding one changes only the
    header; removing one also rotates the data key (every value re-encrypted) and
    records who was removed, and when, in the store (see `secconf audit`)."""
    from secconf.cli.common import check_selection
    from secconf.operations.store import age_environments, sync_recipients

    check_selection(envs, all_)
    if not envs and not all_:
        raise click.UsageError("give --env NAME or --all")
    project = open_project(ctx, writing=True)
    names = list(envs) if envs else age_environments(project)
    for report in sync_recipients(project, names):
        if report.status == "no store":
            click.echo(f"{report.environment}: no store yet, nothing to sync")
            continue
        changes = [f"added {r.key}" for r in report.added]
        changes += [f"removed {r.key}" for r in report.removed]
        if report.status == "unchanged":
            click.echo(f"{report.environment}: already sealed to its recipients")
            continue
        click.echo(f"{report.environment}: {', '.join(changes) or 'groups updated'}")
        if report.resealed:
            click.echo(
                f"{report.environment}: new data key, {report.resealed} entries re-encrypted; "
                "`secconf audit --strict` lists what the removed recipients could read"
            )
    return 0
