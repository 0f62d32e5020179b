"""The Vault target: the JSON object written to KV v2 (`vault kv put MOUNT/PATH @FILE`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

from secconf.core.errors import RenderError
from secconf.core.paths import fill
from secconf.environment.loader import Environment
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.render.base import Artifact, RenderInput, delivered_values, target_path
from secconf.render.registry import Destination, RenderTarget

NAME = "vault"


class VaultSettings(SettingsModel):
    """The KV v2 secret an environment is delivered to."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "output"}

    path: str = "out/{env}.vault.json"
    mount: str = "secret"
    secret_path: str = "{env}/app"  # noqa: S105 (a path, not a password)
    address: str | None = None


def vault_settings(environment: Environment) -> VaultSettings:
    """The environment's `targets.vault` settings."""
    return settings_as(environment.targets[NAME], VaultSettings)


def secret_path(environment: Environment) -> str:
    """The KV v2 path (under the mount) the environment is delivered to."""
    return fill(vault_settings(environment).secret_path, env=environment.name)


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
    settings = vault_settings(config.environment)
    path = target_path(settings.path, config)
    note = f"vault kv put -mount={settings.mount} {secret_path(config.environment)} @{{path}}"
    return Artifact(NAME, config.environment.name, text.encode("utf-8"), path, note)


def _destination(environment: Environment, name: str) -> Destination:
    mount, path = vault_settings(environment).mount, secret_path(environment)
    fields = {"target": NAME, "mount": mount, "path": path, "key": name}
    return Destination(fields, f"vault {mount}/{path}:{name}")


TARGET = RenderTarget(
    name=NAME,
    summary="the JSON payload of the environment's Vault KV v2 secret",
    settings=VaultSettings,
    render=render_vault,
    destination=_destination,
    deploy="secconf.deploy.vault:VaultDeploy",
    order=30,
)
