"""`secconf store init|rekey|migrate|recipients`: the file store's master key, created or
replaced on purpose; its cipher changed; the recipients of an age store listed and synced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from secconf.environment.loader import Environment
from secconf.operations.project import Project
from secconf.store.admin import KeyFileReport

if TYPE_CHECKING:
    from secconf.store.ciphers.age import Recipient
    from secconf.store.file import FileStore


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


# ---- age recipients ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientsList:
    """Who can decrypt an environment's age store: the configured recipients (groups
    resolved), and those its header is sealed to now (None: no store file yet)."""

    environment: str
    store: str
    configured: tuple[Recipient, ...]
    sealed: tuple[Recipient, ...] | None

    def in_sync(self) -> bool:
        """True when the store is sealed to exactly the configured recipients (or is none)."""
        return self.sealed is None or self.sealed == self.configured


@dataclass(frozen=True)
class SyncReport:
    """What `store recipients sync` did to one store."""

    environment: str
    added: tuple[Recipient, ...]
    removed: tuple[Recipient, ...]
    resealed: int  # entries re-encrypted under a new data key (0: the header only)
    status: str  # synced | unchanged | no store


def _age_store(project: Project, env: Environment) -> FileStore:
    """The environment's file store, when its settings choose the age cipher."""
    from secconf.core.errors import InputError
    from secconf.store.backends.file import file_settings, uses_file_store
    from secconf.store.file import FileStore

    if not uses_file_store(env) or file_settings(env).encryption != "age":
        raise InputError(
            f"environment {env.name} does not keep its keys in an age store",
            hint="set `store: file: encryption: age` and `recipients:`, then `secconf store "
            f"migrate --env {env.name} --to age`",
        )
    store = project.open_store(env)
    assert isinstance(store, FileStore)
    return store


def _sealed(store: FileStore) -> tuple[Recipient, ...] | None:
    from secconf.core.errors import StoreError
    from secconf.store.ciphers import age

    file = store.peek()
    if file is not None and file.encryption != age.NAME:
        raise StoreError(
            f"{store.location} is still encrypted with the {file.encryption} cipher",
            hint=f"convert it with `secconf store migrate --env {store.environment} --to age`",
        )
    header = age.sealed_header(file, store.location)
    return None if header is None else age.header_recipients(header)


def list_recipients(project: Project, env: str) -> RecipientsList:
    """Who can decrypt `env`'s age store; reads its header only (no identity needed)."""
    from secconf.store.ciphers.age import AgeKeyring

    store = _age_store(project, project.environments.get(env))
    keyring = store.keyring
    assert isinstance(keyring, AgeKeyring)
    return RecipientsList(env, store.location, keyring.recipients, _sealed(store))


def age_environments(project: Project) -> list[str]:
    """Every environment whose file store uses the age cipher."""
    from secconf.store.backends.file import file_settings, uses_file_store

    out = []
    for name in project.environments.names():
        env = project.environments.get(name)
        if uses_file_store(env) and file_settings(env).encryption == "age":
            out.append(name)
    return out


def sync_recipients(project: Project, names: Sequence[str]) -> list[SyncReport]:
    """Re-wrap each store's data key to its configured recipients: the header only when
    recipients were added; a new data key (every value re-encrypted) and a removal record
    for each one removed. Each store is replaced in one atomic write."""
    from secconf.store.ciphers.age import AgeKeyring, header_recipients, sealed_header

    reports = []
    for name in names:
        store = _age_store(project, project.environments.get(name))
        keyring = store.keyring
        assert isinstance(keyring, AgeKeyring)
        _sealed(store)  # a store of another cipher is refused before anything
        header = sealed_header(store.peek(), store.location)
        if header is None:
            reports.append(SyncReport(name, (), (), 0, "no store"))
            continue
        added, removed = keyring.changes(header)
        groups_changed = header_recipients(header) != keyring.recipients
        resealed = store.rewrap()
        status = "synced" if groups_changed else "unchanged"
        reports.append(SyncReport(name, tuple(added), tuple(removed), resealed, status))
    return reports


@dataclass(frozen=True)
class MigrateReport:
    """What `store migrate` did: the cipher before and after, and the entries moved."""

    environment: str
    source: str
    target: str
    entries: int


def migrate_store(project: Project, env: str, to: str) -> MigrateReport:
    """Convert `env`'s store to the cipher its settings now name (`to`, said again on
    purpose), keeping every value, version and date, in one atomic write."""
    from secconf.core.errors import InputError, StoreError
    from secconf.store import ciphers
    from secconf.store.backends.file import file_settings, uses_file_store
    from secconf.store.file import FileStore

    environment = project.environments.get(env)
    if not uses_file_store(environment):
        raise InputError(f"environment {env} does not keep its keys in a file store")
    target = file_settings(environment).encryption
    if to != target:
        raise InputError(
            f"the store settings of {env} say `encryption: {target}`, not {to}",
            hint=f"set `store: file: encryption: {to}` (and its settings) first, then migrate",
        )
    store = project.open_store(environment)
    assert isinstance(store, FileStore)
    file = store.peek()
    if file is None:
        raise StoreError(f"no store at {store.location}: nothing to migrate")
    if file.encryption == target:
        return MigrateReport(env, target, target, 0)
    context = project.store_context(environment)
    source = FileStore(
        store.path,
        env,
        ciphers.get(file.encryption).keyring(context),
        shown=store.location,
        lock_path=store.lock_path,
        root=project.root,
        key_lock_path=store.key_lock_path,
        state_path=store.state_path,
    )
    store.keyring.require(True)  # whoever migrates must be able to open the result
    entries = source.rewrap(store.keyring)
    return MigrateReport(env, file.encryption, target, entries)


@dataclass(frozen=True)
class AgeInitReport:
    """What `store init --encryption age` did: the public key of the user's identity,
    whether it was just created (and where), whether the environment file now names it,
    and whether the store was created."""

    environment: str
    public_key: str
    identity_created: str | None  # where the new identity was written (None: one existed)
    env_file_changed: bool
    store_created: bool


def init_age_store(project: Project, env: str) -> AgeInitReport:
    """Give the user an age identity when none exists, make it a recipient of `env`'s
    store (adding a `store:` block to the environment file when it has none), and create
    the store. Prints nothing secret: the report holds the public key only."""
    import os

    from secconf.core.errors import InputError
    from secconf.store.ciphers import age

    environment = project.environments.get(env)
    environ = os.environ
    identities = age.find_identities(environ)
    created = None
    if identities.source is None:
        created = _create_identity(age.default_identities_path(environ))
        identities = age.find_identities(environ)
    public = age.first_public_key(identities.found)
    if public is None:
        raise InputError(
            f"the identities from {identities.source} are SSH keys, whose public half "
            "secconf cannot derive",
            hint="add your SSH public key (the .pub file) to `recipients:` by hand, then run "
            "`secconf store recipients sync`",
        )
    text, changed = _with_recipient(project, environment, public)
    if changed:
        project = project.edited(env, text)
        environment = project.environments.get(env)
    store = _age_store(project, environment)
    keyring = store.keyring
    assert isinstance(keyring, age.AgeKeyring)
    if public not in {r.key for r in keyring.recipients}:
        raise InputError(
            f"your public key {public} is not among the recipients of {env}",
            hint="add it to `store: file: recipients:` of the environment file or to a group "
            "of recipients.yaml; a recipient runs `secconf store recipients sync`",
        )
    file = store.peek()
    if file is not None and file.encryption != age.NAME:
        raise InputError(
            f"{store.location} exists, encrypted with the {file.encryption} cipher",
            hint=f"convert it with `secconf store migrate --env {env} --to age`",
        )
    store_created = file is None
    if store_created:
        from secconf.store import ensure_environment_key

        ensure_environment_key(store)
    if changed:
        _write_env_file(project, environment, text)
    return AgeInitReport(env, public, created, changed, store_created)


def _create_identity(path: Path) -> str:
    from secconf.core.files import write_atomic
    from secconf.store.ciphers.age import DEFAULT_IDENTITIES, new_identity

    content, _ = new_identity()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, content.encode("ascii"), mode=0o600, shown=DEFAULT_IDENTITIES)
    return DEFAULT_IDENTITIES


def _with_recipient(project: Project, environment: Environment, public: str) -> tuple[str, bool]:
    """The environment file's text with an age `store:` block naming `public`, when it has
    no `store:` of its own yet; (text, whether it changed)."""
    from secconf.core.errors import InputError
    from secconf.core.yamlio import parse_document, read_text
    from secconf.store.backends.file import file_settings, uses_file_store

    path = project.root / "environments" / f"{environment.name}.yaml"
    text = read_text(path)
    data = parse_document(text, str(path)).data if text.strip() else {}
    if uses_file_store(environment) and file_settings(environment).encryption == "age":
        return text, False  # recipients are the file's and recipients.yaml's to say
    if isinstance(data, dict) and "store" in data:
        raise InputError(
            f"environments/{environment.name}.yaml has store settings of its own",
            hint=f'set `encryption: age` and `recipients: ["{public}"]` under `store: file:` '
            "there, then run this again",
        )
    block = f'store:\n  backend: file\n  file:\n    encryption: age\n    recipients: ["{public}"]\n'
    return (text if text.endswith("\n") or not text else text + "\n") + block, True


def _write_env_file(project: Project, environment: Environment, text: str) -> None:
    from secconf.core.files import write_atomic

    path = project.root / "environments" / f"{environment.name}.yaml"
    shown = f"environments/{environment.name}.yaml"
    write_atomic(path, text.encode("utf-8"), mode=0o644, root=project.root, shown=shown)
