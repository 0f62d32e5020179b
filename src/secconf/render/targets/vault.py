"""The Vault target: the JSON object written to KV v2 (`vault kv put MOUNT/PATH @FILE`)."""

from __future__ import annotations

import json

from secconf.core.errors import RenderError
from secconf.render.base import Artifact, RenderInput, delivered_values, target_path


def vault_payload(data: RenderInput) -> dict[str, str]:
    """Variable name -> string value, in schema order: what the KV v2 secret holds."""
    return {variable.name: text for variable, text in delivered_values(data.config)}


def render_vault(data: RenderInput) -> Artifact:
    """The JSON object, parsed back and compared with the intended data."""
    config = data.config
    payload = vault_payload(data)
    text = data.render("vault.json.j2", {"data": payload})
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(
            f"the vault template does not give valid JSON ({exc.msg})",
            file="templates/vault.json.j2",
        ) from None
    if parsed != payload:
        raise RenderError(
            "the vault template's JSON is not exactly the intended object",
            file="templates/vault.json.j2",
            hint="render `data | to_json` and nothing else",
        )
    settings = config.environment.targets.vault
    secret_path = settings.secret_path.format(env=config.environment.name)
    path = target_path(settings.path, config)
    note = f"vault kv put -mount={settings.mount} {secret_path} @{{path}}"
    return Artifact("vault", config.environment.name, text.encode("utf-8"), path, note)
