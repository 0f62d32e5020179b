"""`secconf store init|rekey`: the file store's master key, created or replaced on purpose."""

from __future__ import annotations

from secconf.operations.project import Project
from secconf.store.admin import KeyFileReport


def init_store_key(project: Project, env: str) -> KeyFileReport:
    """Create the environment's master key file unless a key is already available."""
    from secconf.store.admin import init_master_key

    return init_master_key(project.store_context(project.environments.get(env)))


def rekey_stores(project: Project, env: str) -> tuple[list[tuple[str, int]], str]:
    """Re-encrypt every store sharing `env`'s key file under a new key; returns
    (environment, entries) for each, and the key file (as the settings name it)."""
    from secconf.store.admin import rekey
    from secconf.store.backends.file import shown_key_file

    environment = project.environments.get(env)
    everyone = [
        project.environments.get(n) for n in project.environments.names(include_abstract=True)
    ]
    done = rekey(project.store_context(environment), everyone)
    return done, shown_key_file(environment)
