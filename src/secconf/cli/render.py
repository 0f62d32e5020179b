"""`secconf render`: write each environment's .env, manifests or Vault payload."""

from __future__ import annotations

from pathlib import Path

import click

from secconf.cli.common import (
    OUTPUT_PATH,
    check_selection,
    environment_options,
    notice,
    open_project,
)
from secconf.operations.render import Written
from secconf.render import registry

TARGETS = registry.targets()


@click.command()
@environment_options
@click.option(
    "--target",
    "-t",
    type=click.Choice(list(TARGETS)),
    default="dotenv",
    show_default=True,
    help="; ".join(f"{name}: {t.summary}" for name, t in TARGETS.items()) + ".",
)
@click.option(
    "--out",
    "-o",
    type=OUTPUT_PATH,
    help="Write here instead of the environment's target path (a regular file, any place "
    "you choose); `-` for stdout. Only with a single environment.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing output file that secconf did not write (e.g. a hand-made .env).",
)
@click.option(
    "--templates",
    "templates_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Template directory (default: templates/ of the config repo, then the bundled ones).",
)
@click.option(
    "--check-readers",
    is_flag=True,
    help="With --target dotenv: write nothing; list each variable that docker run "
    "--env-file, kubectl --from-env-file or node --env-file would not read back exactly "
    "(never the value). Exit 1 when there is one.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 16),
    help="With --all (Linux): processes that load, prepare and render the environments, "
    "each its share; the main process checks every path, writes every file and stores "
    "any key it generates. Default: one per CPU, at most 4, each with 25 environments or "
    "more; 1: the main process only.",
)
@click.pass_context
def render(
    ctx: click.Context,
    envs: tuple[str, ...],
    all_: bool,
    target: str,
    out: Path | None,
    force: bool,
    templates_dir: Path | None,
    check_readers: bool,
    processes: int | None,
) -> int:
    """Render environments for a target and write the files (mode 0600, atomically).

    Every selected environment is rendered first; only when all succeed is anything
    written, and then every file or none, so a failed render leaves every existing
    file and store as it was. Keys marked `generate: true` that are not stored yet are
    generated then, except in production (run `secconf keys ensure` there, on
    purpose). An environment with validation errors is not rendered (exit 1). An
    existing file that secconf did not write is not replaced without --force.

    \b
    Examples:
      secconf render --env development            # ./.env for local work
      secconf render --all --target kubernetes    # out/ENV.k8s.yaml
      secconf render --env staging --target vault --out -
    """
    from secconf.operations.render import render as run_render

    check_selection(envs, all_)
    if check_readers:
        return _check_readers(ctx, envs, all_, target)
    written = run_render(
        open_project(ctx, writing=True),
        envs,
        all_=all_,
        target=target,
        notify=notice,
        out=out,
        force=force,
        templates_dir=templates_dir,
        processes=processes,
    )
    lines = [line for item in written for line in _report(item)]
    if lines:  # one write, not one per file of a thousand
        click.echo("\n".join(lines), err=True)
    return 0


def _check_readers(ctx: click.Context, envs: tuple[str, ...], all_: bool, target: str) -> int:
    from secconf.operations.dotenv_readers import check_readers

    if target != "dotenv":
        raise click.UsageError("--check-readers is for --target dotenv")
    checks = check_readers(open_project(ctx), envs, all_=all_, notify=notice)
    misread = [c for c in checks if c.misread_by]
    for check in misread:
        click.echo(f"{check.environment}: {check.variable}: not read back exactly by "
                   f"{', '.join(check.misread_by)}")
    click.echo(f"{len(checks) - len(misread)} of {len(checks)} variables read back exactly by "
               "every common reader", err=True)
    return 1 if misread else 0


def _report(item: Written) -> list[str]:
    """The lines that report one artifact (stderr); one asked for on stdout goes there."""
    artifact = item.artifact
    if item.shown == "-":
        from secconf.core.redact import deliver_stdout

        deliver_stdout(artifact.content)  # the artifact asked for: the one unredacted output
        return []
    state = "wrote" if item.changed else "unchanged"
    lines = [f"{artifact.environment}: {state} {item.shown} ({artifact.target})"]
    if artifact.note:
        # Not str.format: the note quotes settings of the environment file.
        lines.append(f"  next: {artifact.note.replace('{path}', item.shown)}")
    return lines
