"""`secconf audit`: the inventory of sensitive variables of the selected environments,
with the destinations every render target declares. Generates and writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from secconf.audit import Inventory, SensitiveItem, sensitive_items
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
        items = sensitive_items(
            config,
            state.fingerprint_key,
            now,
            destinations=partial(destinations, environment),
            store_read=not offline,
        )
        access_, removed, created = access(project, environment)
        inventory.environments[environment.name] = [
            _exposed(item, removed, created) for item in items
        ]
        inventory.access[environment.name] = access_
    return inventory


def access(
    project: Project, environment: Environment
) -> tuple[dict[str, Any], list[dict[str, str]], dict[str, str]]:
    """Who can decrypt the environment's store; for an age store also its removal records
    and the date of each value's current version (read from the header: no key needed)."""
    from secconf.store.backends.file import file_settings, shown_key_file, uses_file_store

    backend = environment.store.backend
    if not uses_file_store(environment):
        settings = environment.store.settings()
        out: dict[str, Any] = {"backend": backend, "governed_by": f"{backend} policies"}
        if backend == "vault":
            path = str(getattr(settings, "path", "")).replace("{env}", environment.name)
            out.update(governed_by="Vault policies", mount=getattr(settings, "mount", None))
            out["path"] = path
        return out, [], {}
    encryption = file_settings(environment).encryption
    if encryption != "age":
        key_file = shown_key_file(environment)
        return {"backend": "file", "encryption": encryption, "key_file": key_file}, [], {}
    from secconf.store.ciphers import age
    from secconf.store.file import FileStore

    recipients = age.configured_recipients(project.store_context(environment))
    out = {
        "backend": "file",
        "encryption": "age",
        "recipients": [r.as_dict() for r in recipients],
    }
    store = project.open_store(environment)
    assert isinstance(store, FileStore)
    file = store.peek()
    header = age.sealed_header(file, store.location)
    if file is None or header is None:
        return out, [], {}
    created = {name: str(doc["created_at"]) for name, doc in file.entries.items()}
    return out, age.removals(header), created


def _exposed(
    item: SensitiveItem, removed: list[dict[str, str]], created: dict[str, str]
) -> SensitiveItem:
    """The item with the removed recipients that could decrypt its current version: those
    removed after it was created (the date format sorts as text)."""
    kind = item.provenance["kind"]
    since = created.get(item.name)
    if kind not in ("generated", "stored") or since is None:
        return item
    exposed = tuple(r for r in removed if since <= r["removed_at"])
    if not exposed:
        return item
    env = item.environment
    hint = (
        f"rotate it: `secconf keys rotate {item.name} --env {env}`"
        if kind == "generated"
        else f"rotate it at the provider, then `secconf import FILE.env --env {env}`"
    )
    return replace(item, exposed_to=exposed, exposure_hint=hint)


def failing(inventory: Inventory) -> bool:
    """True when `--strict` fails: a value missing, in plaintext, past its age, or
    readable by a removed age recipient."""
    summary = inventory.summary()
    return bool(summary["missing"] + summary["plaintext"] + summary["overdue"] + summary["exposed"])
