"""`secconf store init|rekey`: the master key of the encrypted file store."""

from __future__ import annotations

import click

from secconf.cli.common import confirm, open_project


@click.group()
def store() -> None:
    """The encrypted file store's master key: create it on purpose, or replace it."""


@store.command()
@click.option("--env", "-e", "env", required=True, metavar="NAME", help="The environment.")
@click.pass_context
def init(ctx: click.Context, env: str) -> int:
    """Create the environment's master key file (mode 0600) if it has no key yet.

    The only way a production environment gets a new master key: it is never
    created as a side effect. The key is never printed; copy the file to your
    team's password manager and CI secret (see the README).
    """
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
