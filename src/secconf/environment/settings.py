"""Settings of render targets, store backends and ciphers, as the environment layer sees
them: models it validates without knowing any target or backend by name.

Each target and store backend declares its settings model (a `SettingsModel`) in its own
module; `secconf.operations.project.Project` hands the environment layer a
`SettingsRegistry` built from the render and store registries. So adding a target or a
backend changes nothing here, in the loader, or in the JSON Schema of environment files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from secconf.core.record import Record

PathRole = Literal["output", "store", "key file"]


class SettingsModel(Record):
    """The settings of one target, store backend or cipher; every field has a default.

    A record's validator is built when it first validates. Class attributes say what
    the rest of secconf needs to know about the fields.
    """

    # Fields that name a file secconf writes or reads, and the role the placement rules
    # of `secconf.core.paths` give it.
    path_roles: ClassVar[Mapping[str, PathRole]] = {}
    # Placeholders a field may use besides `{env}`: field -> {placeholder: field of this
    # model whose value fills it}, e.g. `{app}` in Kubernetes names.
    placeholders: ClassVar[Mapping[str, Mapping[str, str]]] = {}


M = TypeVar("M", bound=SettingsModel)


def settings_as(settings: SettingsModel, model: type[M]) -> M:
    """`settings` typed as the model its module declared (a registry hands out the base)."""
    if not isinstance(settings, model):
        raise TypeError(f"expected {model.__name__} settings, got {type(settings).__name__}")
    return settings


@dataclass(frozen=True)
class SettingsRegistry:
    """Every settings model an environment file may configure, by name.

    `targets`: `targets.NAME` of an environment file; `stores`: `store.NAME` (and
    `store.backend: NAME` chooses one); `shared_outputs`: targets that write one file
    for every environment (`.env.example`), which the placement rules let environments
    share.
    """

    targets: Mapping[str, type[SettingsModel]]
    stores: Mapping[str, type[SettingsModel]]
    default_store: str = "file"
    shared_outputs: frozenset[str] = field(default_factory=frozenset)


class StoreSettings(NamedTuple):
    """The store of an environment: the chosen backend, and every backend's settings
    (defaults filled in), so that `extends` can switch backends."""

    backend: str
    backends: Mapping[str, SettingsModel]

    def settings(self) -> SettingsModel:
        """The chosen backend's settings."""
        return self.backends[self.backend]

    def as_data(self) -> dict[str, Any]:
        """The settings as an environment file would write them in full."""
        data: dict[str, Any] = {"backend": self.backend}
        data.update({name: s.dump() for name, s in self.backends.items()})
        return data
