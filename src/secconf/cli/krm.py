"""`secconf krm`: run as a KRM function (kpt fn eval --exec, kustomize exec functions)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from secconf.operations.krm import KrmOutcome

# A ResourceList larger than this is refused before it is parsed.
MAX_INPUT_BYTES = 16 << 20


@click.command()
def krm() -> int:
    """Read a ResourceList on stdin; write it back with the environment's objects.

    The functionConfig is `apiVersion: secconf.dev/v1alpha1`, `kind: SecconfSecrets`,
    `spec: {environment: NAME, target: kubernetes|external-secret, root: PATH}` (root
    relative to the working directory, default `.`). The objects are those `secconf
    render` writes. A failure comes back as a `results` entry of severity error, exit 1.

    \b
    Examples:
      kpt fn eval DIR --exec secconf-krm --fn-config fn-config.yaml -o stdout
      kustomize build --enable-alpha-plugins --enable-exec examples/kustomize
    """
    from secconf.cli.common import notice
    from secconf.core.yamlio import dump_yaml
    from secconf.operations.krm import run_function

    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    try:
        if len(data) > MAX_INPUT_BYTES:
            outcome = _failed(f"the ResourceList on stdin is over {MAX_INPUT_BYTES} bytes")
        else:
            outcome = run_function(data.decode("utf-8"), cwd=Path.cwd(), notify=notice)
    except UnicodeDecodeError:
        outcome = _failed("the ResourceList on stdin is not UTF-8")
    except Exception as exc:  # a bug: still a result the runner shows, never a traceback
        outcome = _failed(f"internal error in secconf ({type(exc).__name__}); this is a bug")
    text = dump_yaml(outcome.resource_list)
    if outcome.ok:
        from secconf.core.redact import deliver_stdout

        deliver_stdout(text.encode("utf-8"))  # the objects asked for, as render --out - does
        return 0
    click.echo(text, nl=False)  # results only: through the redaction, as every message
    for result in outcome.resource_list.get("results", []):
        click.echo(f"secconf krm: error: {result['message']}", err=True)
    return 1


def _failed(message: str) -> KrmOutcome:
    from secconf.operations.krm import KrmOutcome

    resource_list = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                     "items": [], "results": [{"message": message, "severity": "error"}]}
    return KrmOutcome(resource_list, ok=False)
