"""`secconf audit`: the inventory of sensitive variables of the selected environments,
with the destinations every render target declares. Generates and writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from secconf.audit import Inventory, sensitive_items
from secconf.environment.loader import Environment
from secconf.operations.prepare import resolve_for_reading
from secconf.operations.project import Project
from secconf.render.registry import Destination


def destinations(environment: Environment, name: str) -> list[Destination]:
    """Where each render target delivers the sensitive variable `name` of `environment`."""
    from secconf.render.registry import targets

    out = []
    for target in targets().values():
        place = target.destination(environment, name) if target.destination else None
        if place is not None:
            out.append(place)
    return out


def audit_environments(
    project: Project,
    names: Sequence[str],
    *,
    all_: bool,
    offline: bool,
    now: datetime | None = None,
) -> Inventory:
    """The inventory of the named environments (every one with `all_` or no names), with
    ages as of `now` (default: the current time)."""
    inventory = Inventory()
    for environment in project.select(names, all_=all_):
        config, state = resolve_for_reading(project, environment, offline=offline)
        inventory.environments[environment.name] = sensitive_items(
            config,
            state.fingerprint_key,
            now,
            destinations=partial(destinations, environment),
            store_read=not offline,
        )
        inventory.access[environment.name] = who_can_decrypt(environment)
    return inventory


def who_can_decrypt(environment: Environment) -> list[str]:
    """Who can read the values the environment's store holds, in words."""
    backend = environment.store.backend
    if backend == "file":
        from secconf.store.backends.file import file_settings, shown_key_file, shown_path
        from secconf.store.masterkey import ENV_VAR, env_var_for

        settings = file_settings(environment)
        store = shown_path(environment)
        if settings.encryption != "master-key":
            return [f"the holders of the keys of `encryption: {settings.encryption}` ({store})"]
        return [
            f"whoever holds the master key of {store}: the key file "
            f"{shown_key_file(environment)}, or the variable {env_var_for(environment.name)} "
            f"or {ENV_VAR} where it is set (CI)"
        ]
    if backend == "vault":
        from secconf.core.paths import fill
        from secconf.environment.settings import settings_as
        from secconf.store.backends.vault import VaultStoreSettings

        vault = settings_as(environment.store.backends[backend], VaultStoreSettings)
        path = fill(vault.path, env=environment.name)
        return [f"every Vault token whose policy may read {vault.mount}/data/{path}"]
    return [f"whoever can read the {backend} store"]


def failing(inventory: Inventory) -> bool:
    """True when `--strict` fails: a value missing, in plaintext, or past its age."""
    summary = inventory.summary()
    return bool(summary["missing"] + summary["plaintext"] + summary["overdue"])
