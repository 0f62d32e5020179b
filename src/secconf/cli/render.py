"""`secconf render`: write each environment's .env, manifests or Vault payload."""

from __future__ import annotations

from pathlib import Path

import click

from secconf.cli.common import OUTPUT_PATH, environment_options, open_project, selected
from secconf.cli.keys import notice
from secconf.operations.project import TEMPLATES_DIR
from secconf.operations.render import Written

TARGET_NAMES = ["dotenv", "kubernetes", "vault", "dotenv-example"]


@click.command()
@environment_options
@click.option(
    "--target",
    "-t",
    type=click.Choice(TARGET_NAMES),
    default="dotenv",
    show_default=True,
    help="dotenv: a .env file; kubernetes: Secret + ConfigMap YAML; vault: the KV v2 JSON "
    "payload; dotenv-example: .env.example with every variable and no secret.",
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
@click.pass_context
def render(
    ctx: click.Context,
    envs: tuple[str, ...],
    all_: bool,
    target: str,
    out: Path | None,
    force: bool,
    templates_dir: Path | None,
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
    from secconf.operations.render import render_environments
    from secconf.render.templating import Templates

    project = open_project(ctx, writing=True)
    environments = selected(project, envs, all_)
    if target == "dotenv-example":
        environments = environments[:1]  # one file from the schema, whatever the environment
    if out is not None and len(environments) > 1:
        raise click.UsageError("--out takes a single --env")
    templates = Templates(templates_dir or project.root / TEMPLATES_DIR)
    written = render_environments(
        project, environments, target, templates, notify=notice, out=out, force=force
    )
    for item in written:
        _report(item)
    return 0


def _report(item: Written) -> None:
    artifact = item.artifact
    if item.shown == "-":
        from secconf.core.redact import deliver_stdout

        deliver_stdout(artifact.content)  # the artifact asked for: the one unredacted output
        return
    state = "wrote" if item.changed else "unchanged"
    click.echo(f"{artifact.environment}: {state} {item.shown} ({artifact.target})", err=True)
    if artifact.note:
        # Not str.format: the note quotes settings of the environment file.
        click.echo(f"  next: {artifact.note.replace('{path}', item.shown)}", err=True)
