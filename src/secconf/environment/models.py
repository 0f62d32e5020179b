"""What an environment file says: values, their sources, and per-target settings."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from secconf.schema.models import NAME_PATTERN

ENV_NAME_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileStoreSettings(_Settings):
    """Where the encrypted file store of an environment lives, and its master key file."""

    path: str = "secrets/{env}.enc.yaml"
    key_file: str = ".secconf/master.key"


class VaultStoreSettings(_Settings):
    """Where generated keys live when the store is Vault KV v2."""

    mount: str = "secret"
    path: str = "secconf/{env}"
    address: str | None = None


class StoreSettings(_Settings):
    """The secret store of an environment: `file` (embedded default) or `vault`."""

    backend: Literal["file", "vault"] = "file"
    file: FileStoreSettings = FileStoreSettings()
    vault: VaultStoreSettings = VaultStoreSettings()


class DotenvTarget(_Settings):
    """Where `secconf render --target dotenv` writes."""

    path: str = "out/{env}.env"


class DotenvExampleTarget(_Settings):
    """Where `secconf render --target dotenv-example` writes."""

    path: str = ".env.example"


class KubernetesTarget(_Settings):
    """The Secret and ConfigMap an environment is delivered as."""

    path: str = "out/{env}.k8s.yaml"
    namespace: str = "default"
    app_name: str = "app"
    secret_name: str = "{app}-secrets"  # noqa: S105 (a name, not a password)
    configmap_name: str = "{app}-config"
    all_in_secret: bool = False
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    context: str | None = None


class VaultTarget(_Settings):
    """The KV v2 secret an environment is delivered to."""

    path: str = "out/{env}.vault.json"
    mount: str = "secret"
    secret_path: str = "{env}/app"  # noqa: S105 (a path, not a password)
    address: str | None = None


class Targets(_Settings):
    """Per-target settings; every field has a default."""

    dotenv: DotenvTarget = DotenvTarget()
    dotenv_example: DotenvExampleTarget = Field(
        default=DotenvExampleTarget(), alias="dotenv-example"
    )
    kubernetes: KubernetesTarget = KubernetesTarget()
    vault: VaultTarget = VaultTarget()


class EnvironmentFile(_Settings):
    """The top level of `environments/NAME.yaml` as written (before `extends` is applied)."""

    name: str | None = Field(default=None, pattern=ENV_NAME_PATTERN)
    description: str = ""
    extends: str | None = None
    production: bool | None = None
    abstract: bool = False
    values: dict[str, object] = {}
    store: dict[str, object] = {}
    targets: dict[str, object] = {}


class Location(NamedTuple):
    """Where something was written: a file and a 1-based line."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class LiteralValue(NamedTuple):
    """A value written in the environment file, as the text the application will read."""

    text: str
    at: Location

    def __repr__(self) -> str:
        # The schema decides what is sensitive; this record does not know: mask always.
        return f"LiteralValue(text='********', at={self.at!r})"


class FromEnv(NamedTuple):
    """`from_env: NAME`: the value is read from the process environment at run time (CI)."""

    env_var: str
    at: Location


class Generate(NamedTuple):
    """`generate: true`: secconf generates the value once and keeps it in its store."""

    at: Location


class FromStore(NamedTuple):
    """`from_store: true`: a value put into the secret store (by `secconf import`)."""

    at: Location


class UseDefault(NamedTuple):
    """`NAME: null`: explicitly back to the schema default (undoes an inherited value)."""

    at: Location


ValueSource = LiteralValue | FromEnv | Generate | FromStore | UseDefault

FROM_ENV_NAME = NAME_PATTERN
