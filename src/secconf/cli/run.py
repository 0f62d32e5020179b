"""`secconf run`: start a command with an environment's settings, no file written."""

from __future__ import annotations

import click

from secconf.cli.common import complete_environment, notice, open_project


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--env",
    "-e",
    "env",
    required=True,
    metavar="NAME",
    help="The environment whose settings the command gets.",
    shell_complete=complete_environment,
)
@click.option(
    "--only",
    is_flag=True,
    help="The command gets only the environment's variables and PATH, HOME, LANG, TERM.",
)
@click.option(
    "--redact",
    is_flag=True,
    help="Run the command as a child and show each sensitive value in its output (and its "
    "base64, base64url, URL-encoded and hex forms) as [secconf:VARIABLE]. Values shorter "
    "than 6 characters are left as they are.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, env: str, only: bool, redact: bool, command: tuple[str, ...]) -> int:
    """Run COMMAND with the environment's variables added to its environment.

    Nothing is written to disk but the keys: as `render`, keys marked `generate: true`
    that are not stored yet are generated and stored first, except in production (run
    `secconf keys ensure` there). An environment with validation errors does not run
    (exit 1). The command replaces secconf (its signals and exit status are its own);
    with --redact it runs as a child, gets SIGINT, SIGTERM and SIGHUP passed on, and
    secconf exits with its status. A command that is not found exits 127.

    \b
    Examples:
      secconf run --env development -- python -m app
      secconf run --env staging --only -- env
      secconf run --env staging --redact -- ./debug.sh
    """
    from secconf.operations.run import CommandNotFound, exec_command, prepare_run, run_redacted

    launch = prepare_run(open_project(ctx, writing=True), env, command, only=only, notify=notice)
    try:
        if redact:
            return run_redacted(launch)
        exec_command(launch)
    except CommandNotFound as exc:
        click.echo(f"secconf: {exc.command}: {exc.reason}", err=True)
        return exc.exit_code
