"""`secconf render`: write each environment's .env, manifests or Vault payload."""

from __future__ import annotations

from pathlib import Path

import click

from secconf.cli.common import environment_options, open_project, selected
from secconf.cli.keys import notice
from secconf.operations.project import TEMPLATES_DIR
from secconf.render.base import Artifact

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
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of the environment's target path; `-` for stdout. "
    "Only with a single environment.",
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
    templates_dir: Path | None,
) -> int:
    """Render environments for a target and write the files (mode 0600, atomically).

    Every selected environment is rendered first; only when all succeed is anything
    written, so a failed render leaves every existing file as it was. Keys marked
    `generate: true` that are not stored yet are generated now, except in production
    (run `secconf keys ensure` there, on purpose). An environment with validation
    errors is not rendered (exit 1).

    \b
    Examples:
      secconf render --env development            # ./.env for local work
      secconf render --all --target kubernetes    # out/ENV.k8s.yaml
      secconf render --env staging --target vault --out -
    """
    from secconf.operations.prepare import preflight, prepare
    from secconf.render import TARGETS, RenderInput
    from secconf.render.templating import Templates

    project = open_project(ctx)
    environments = selected(project, envs, all_)
    if target == "dotenv-example":
        environments = environments[:1]  # one file from the schema, whatever the environment
    if out is not None and len(environments) > 1:
        raise click.UsageError("--out takes a single --env")
    templates = Templates(templates_dir or project.root / TEMPLATES_DIR)
    if target != "dotenv-example":
        for environment in environments:  # one refused environment stops all, untouched
            preflight(project, environment)
    artifacts: list[Artifact] = []
    for environment in environments:
        if target == "dotenv-example":
            config = project.resolve(environment, stored={}, environ={})
            data = RenderInput(config, templates, b"")
        else:
            prepared = prepare(project, environment, notify=notice)
            data = RenderInput(prepared.config, templates, prepared.checksum_key)
        artifacts.append(TARGETS[target](data))
    for artifact in artifacts:
        _write(project.root, artifact, out)
    return 0


def _write(root: Path, artifact: Artifact, out: Path | None) -> None:
    from secconf.core.files import write_atomic

    if out is not None and str(out) == "-":
        from secconf.core.redact import deliver_stdout

        deliver_stdout(artifact.content)  # the artifact asked for: the one unredacted output
        return
    path = out if out is not None else root / artifact.path
    changed = write_atomic(path, artifact.content, mode=artifact.mode)
    shown = artifact.path if out is None else str(out)
    state = "wrote" if changed else "unchanged"
    click.echo(f"{artifact.environment}: {state} {shown} ({artifact.target})", err=True)
    if artifact.note:
        click.echo(f"  next: {artifact.note.format(path=shown)}", err=True)
