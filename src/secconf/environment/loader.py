"""Read `environments/*.yaml` and apply `extends:` layering (child wins, cycles refused)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic_core import ValidationError

from secconf.core.errors import InputError
from secconf.core.paths import (
    PlaceholderError,
    Placement,
    Role,
    check_fill,
    fill,
    resolved_text,
    shown_path,
)
from secconf.core.yamlio import MAX_FILE_BYTES, Document, load_document, parse_document
from secconf.environment.models import (
    ENV_NAME_PATTERN,
    FROM_ENV_NAME,
    EnvironmentFile,
    FromEnv,
    FromStore,
    Generate,
    LiteralValue,
    Location,
    UseDefault,
    ValueSource,
)
from secconf.environment.settings import SettingsModel, SettingsRegistry, StoreSettings

_REFERENCE_KINDS = ("from_env", "generate", "from_store")
_FORMAT_HINT = "see the environment file format in the README"


class Environment(NamedTuple):
    """One environment with its `extends` chain applied."""

    name: str
    file: str
    chain: tuple[str, ...]  # files from the environment itself up to its furthest ancestor
    production: bool
    abstract: bool
    description: str
    values: dict[str, ValueSource]
    store: StoreSettings
    targets: Mapping[str, SettingsModel]  # target name -> its settings (defaults filled in)
    lines: Mapping[str, Location] = MappingProxyType({})  # settings keys -> where written


class _Parsed(NamedTuple):
    name: str
    doc: Document
    spec: EnvironmentFile
    values: dict[str, ValueSource]


class EnvironmentSet:
    """Every environment file of a config repo, resolved on demand."""

    def __init__(
        self, directory: Path, *, settings: SettingsRegistry, root: Path | None = None
    ) -> None:
        self.directory = directory
        self.settings = settings
        self._root = root
        self._files = _environment_files(directory)
        self._texts: dict[str, str] = {}  # edited files not written yet (see `edited`)
        self._parsed: dict[str, _Parsed] = {}
        self._resolved: dict[str, Environment] = {}
        self._placement: Placement | None = None
        self._placing = False

    def edited(self, name: str, text: str) -> EnvironmentSet:
        """This set as it would be with environments/NAME.yaml holding `text`: so that an
        edit is checked before it is written."""
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise InputError(
                f"the edited file would be over the {MAX_FILE_BYTES}-byte limit",
                file=self._show(self.directory / f"{name}.yaml"),
            )
        other = EnvironmentSet(self.directory, settings=self.settings, root=self._root)
        other._files = {**self._files, name: self.directory / f"{name}.yaml"}
        other._texts = {**self._texts, name: text}
        return other

    def names(self, *, include_abstract: bool = False) -> list[str]:
        """Environment names in file-name order (abstract ones only on request)."""
        names = sorted(self._files)
        if include_abstract:
            return names
        return [n for n in names if not self._parse(n).spec.abstract]

    def get(self, name: str) -> Environment:
        """The environment `name` with its `extends` chain applied, once every
        environment's paths have been checked (`placement`)."""
        environment = self._get(name)
        if self._root is not None and self._placement is None and not self._placing:
            self.placement()
        return environment

    def files(self) -> list[str]:
        """Every environment's name, abstract ones included, in file-name order."""
        return sorted(self._files)

    def abstract(self, name: str) -> bool:
        """Whether the environment `name` is abstract (only extended, never rendered)."""
        return self._parse(name).spec.abstract

    def placement(self) -> Placement:
        """The output, store and key file paths of every environment (abstract ones
        included), checked against the rules of `secconf.core.paths` or refused, located."""
        if self._placement is None:
            self._placing = True
            try:
                roles = self.roles(self.files())
            finally:
                self._placing = False
            placement = Placement(self._placement_root(), roles)
            placement.check()
            self._placement = placement
        return self._placement

    def roles(self, names: list[str]) -> list[Role]:
        """The output, store and key file paths of these environments, unchecked: what
        `placement` checks, for every environment, in file-name order."""
        root = self._placement_root()
        cache: dict[str, str] = {}  # resolved directories, shared by every path
        return [r for n in names for r in _roles(self._get(n), root, cache, self.settings)]

    def place(self, placement: Placement) -> None:
        """Take `placement` as this set's, so that `get` does not make its own: one
        assembled from the roles that several processes each loaded a share of (its
        caller checks it, or checks each path of one process's share alone)."""
        self._placement = placement

    def _placement_root(self) -> Path:
        return self._root if self._root is not None else self.directory.parent

    def _get(self, name: str) -> Environment:
        if name not in self._resolved:
            self._resolved[name] = self._resolve(name, ())
        return self._resolved[name]

    def _parse(self, name: str) -> _Parsed:
        if name not in self._files:
            known = ", ".join(sorted(self._files)) or "none"
            raise InputError(
                f"unknown environment {name!r} (known: {known})",
                hint=f"create {self._show(self.directory / (name + '.yaml'))} or pick a known one",
            )
        if name not in self._parsed:
            path, shown = self._files[name], self._show(self._files[name])
            doc = (
                parse_document(self._texts[name], shown)
                if name in self._texts
                else load_document(path, display=shown)
            )
            self._parsed[name] = _parse_file(name, doc)
        return self._parsed[name]

    def _show(self, path: Path) -> str:
        return shown_path(self._root, path)

    def _resolve(self, name: str, seen: tuple[str, ...]) -> Environment:
        parsed = self._parse(name)
        spec = parsed.spec
        if spec.extends is None:
            return _build(parsed, None, self.settings)
        file, line = parsed.doc.path, parsed.doc.line("extends")
        if spec.extends not in self._files:
            raise InputError(
                f"extends unknown environment {spec.extends!r}",
                hint=f"known environments: {', '.join(sorted(self._files))}",
                file=file,
                line=line,
            )
        if spec.extends in (*seen, name):
            cycle = " -> ".join((*seen, name, spec.extends))
            raise InputError(
                f"`extends` cycle: {cycle}",
                hint="an environment cannot extend itself through its parents",
                file=file,
                line=line,
            )
        parent = self._resolve(spec.extends, (*seen, name))
        return _build(parsed, parent, self.settings)


def _environment_files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        raise InputError(
            "no environments directory",
            file=str(directory),
            hint="run `secconf init` to create one",
        )
    files: dict[str, Path] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        name = path.stem
        if not re.match(ENV_NAME_PATTERN, name):
            raise InputError(
                f"environment file name {path.name!r} is not a valid environment name",
                file=str(path),
                hint="use lower-case letters, digits, '-' and '_' (e.g. staging.yaml)",
            )
        if name in files:
            raise InputError(f"environment {name!r} is defined twice", file=str(path))
        files[name] = path
    return files


def _parse_file(name: str, doc: Document) -> _Parsed:
    shown = doc.path
    try:
        spec = EnvironmentFile.validate(doc.data)
    except ValidationError as exc:
        raise doc.validation_error(exc, hint=_FORMAT_HINT) from None
    if spec.name is not None and spec.name != name:
        raise InputError(
            f"name {spec.name!r} differs from the file name {name!r}",
            file=shown,
            line=doc.line("name"),
            hint="an environment is named after its file; remove `name:` or rename the file",
        )
    values = {key: _value_source(key, raw, doc) for key, raw in spec.values.items()}
    return _Parsed(name, doc, spec, values)


def _value_source(key: str, raw: Any, doc: Document) -> ValueSource:
    at = Location(doc.path, doc.line("values", key))
    if raw is None:
        return UseDefault(at)
    if isinstance(raw, dict):
        return _reference(key, raw, at)
    if isinstance(raw, list):
        raise InputError(
            f"{key}: a value is a scalar or a reference (from_env/generate/from_store), not a list",
            file=at.file,
            line=at.line,
        )
    text = doc.raw.get(("values", key))
    if text is None:
        text = raw if isinstance(raw, str) else str(raw)
    return LiteralValue(text, at)


def _reference(key: str, raw: dict[str, Any], at: Location) -> ValueSource:
    kinds = [k for k in raw if k in _REFERENCE_KINDS]
    unknown = [k for k in raw if k not in _REFERENCE_KINDS]
    if unknown or len(kinds) != 1 or len(raw) != 1:
        what = ", ".join(repr(k) for k in (unknown or list(raw))) or "nothing"
        raise InputError(
            f"{key}: unknown reference kind {what}",
            file=at.file,
            line=at.line,
            hint="a reference is `{from_env: NAME}`, `{generate: true}` or `{from_store: true}`; "
            "quote a literal string that contains ': '",
        )
    if "from_env" in raw:
        name = raw["from_env"]
        if not isinstance(name, str) or not re.match(FROM_ENV_NAME, name):
            raise InputError(
                f"{key}: from_env must name an environment variable",
                file=at.file,
                line=at.line,
                hint="e.g. `{from_env: PROD_JWT_SECRET_KEY}`",
            )
        if _is_secconf_credential_variable(name):
            raise InputError(
                f"{key}: from_env cannot read {name}: it is secconf's own setting or "
                "credential (SECCONF_*, VAULT_*, KUBECONFIG, KUBERNETES_*)",
                file=at.file,
                line=at.line,
                hint=f"give the value a variable of its own, e.g. `{{from_env: PROD_{key}}}`",
            )
        return FromEnv(name, at)
    kind = kinds[0]
    if raw[kind] is not True:
        raise InputError(
            f"{key}: `{kind}` takes only `true`",
            file=at.file,
            line=at.line,
            hint="remove the line to use the schema default",
        )
    return Generate(at) if kind == "generate" else FromStore(at)


def _is_secconf_credential_variable(name: str) -> bool:
    """A variable that holds secconf's own credentials or connection settings: an
    environment file (from anyone's pull request) must not route it into an output."""
    upper = name.upper()
    return upper == "KUBECONFIG" or upper.startswith(("SECCONF_", "VAULT_", "KUBERNETES_"))


def _build(
    parsed: _Parsed, parent: Environment | None, registry: SettingsRegistry
) -> Environment:
    spec = parsed.spec
    values = dict(parent.values) if parent else {}
    values.update(parsed.values)
    store_data = _deep_merge(parent.store.as_data() if parent else {}, spec.store)
    targets_data = _deep_merge(
        {n: s.dump() for n, s in parent.targets.items()} if parent else {}, spec.targets
    )
    store = _store_settings(store_data, parsed.doc, registry)
    targets = _named_settings(targets_data, registry.targets, parsed.doc, ("targets",))
    values_of = {"env": parsed.name}
    for name, settings in targets.items():
        _check_placeholders(settings, ("targets", name), parsed.doc, values_of)
    for name, settings in store.backends.items():
        _check_placeholders(settings, ("store", name), parsed.doc, values_of)
    lines = dict(parent.lines) if parent else {}
    lines.update(_setting_lines({"store": spec.store, "targets": spec.targets}, (), parsed.doc))
    production = spec.production
    if production is None:
        production = parent.production if parent else False
    return Environment(
        name=parsed.name,
        file=parsed.doc.path,
        chain=(parsed.doc.path, *(parent.chain if parent else ())),
        production=production,
        abstract=spec.abstract,
        description=spec.description or (parent.description if parent else ""),
        values=values,
        store=store,
        targets=MappingProxyType(targets),
        lines=MappingProxyType(lines),
    )


def _store_settings(
    data: dict[str, Any], doc: Document, registry: SettingsRegistry
) -> StoreSettings:
    """`store:` as the backends of the registry read it: `backend:` names one of them."""
    data = dict(data)
    backend = data.pop("backend", registry.default_store)
    if backend not in registry.stores:
        known = ", ".join(sorted(registry.stores))
        raise InputError(
            f"store.backend: unknown store backend {backend!r}",
            file=doc.path,
            line=doc.nearest_line(("store", "backend")),
            hint=f"use one of {known}",
        )
    backends = _named_settings(data, registry.stores, doc, ("store",))
    return StoreSettings(str(backend), MappingProxyType(backends))


_KINDS = {"targets": "render target", "store": "store setting"}


def _named_settings(
    data: dict[str, Any],
    models: Mapping[str, type[SettingsModel]],
    doc: Document,
    where: tuple[str, ...],
) -> dict[str, SettingsModel]:
    """One settings model per registered name (defaults for those not written)."""
    unknown = [name for name in data if name not in models]
    if unknown:
        raise InputError(
            f"{'.'.join(where)}: unknown {_KINDS.get(where[0], where[0])} {unknown[0]!r}",
            file=doc.path,
            line=doc.nearest_line((*where, str(unknown[0]))),
            hint=f"use one of {', '.join(sorted(models))}",
        )
    out: dict[str, SettingsModel] = {}
    for name, model in models.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise InputError(
                f"{'.'.join((*where, name))}: settings are a mapping (key: value lines)",
                file=doc.path,
                line=doc.nearest_line((*where, name)),
                hint=_FORMAT_HINT,
            )
        out[name] = _settings(model, raw, doc, (*where, name))
    return out


def _check_placeholders(
    settings: SettingsModel, where: tuple[str, ...], doc: Document, values: dict[str, str]
) -> None:
    """Fill every text setting as it will be filled (secconf.core.paths.fill), so that a
    bad placeholder or an oversized result is refused at load time, located."""
    extra = type(settings).placeholders
    for key in type(settings).record_fields():
        value = getattr(settings, key)
        if not isinstance(value, str):
            continue
        allowed = values
        if key in extra:
            allowed = dict(values)
            for placeholder, source in extra[key].items():
                allowed[placeholder] = str(getattr(settings, source))
        try:
            check_fill(value, allowed)
        except PlaceholderError as exc:
            raise InputError(
                f"{'.'.join((*where, key))}: {exc.message}",
                file=doc.path,
                line=doc.nearest_line((*where, key)),
                hint=exc.hint,
            ) from None


def _setting_lines(
    data: dict[str, Any], path: tuple[str, ...], doc: Document
) -> dict[str, Location]:
    """`store.file.path` -> where this file sets it, for every setting it sets."""
    out: dict[str, Location] = {}
    for key, value in data.items():
        where = (*path, str(key))
        if isinstance(value, dict):
            out.update(_setting_lines(value, where, doc))
        else:
            out[".".join(where)] = Location(doc.path, doc.nearest_line(where))
    return out


def _roles(
    environment: Environment, root: Path, cache: dict[str, str], registry: SettingsRegistry
) -> list[Role]:
    """The configured paths of one environment: its outputs, store and key file."""
    out: list[Role] = []

    def add(
        kind: Any, setting: str, template: str, target: str | None = None, default: str = ""
    ) -> None:
        shown = fill(template, env=environment.name)
        at = environment.lines.get(setting) or Location(environment.file, None)
        try:
            location = resolved_text(root, shown, cache)
            if kind == "key file" and not os.path.exists(location) and os.path.islink(root / shown):
                # A key file that links to nothing: creating a key there would write
                # through the link, and stores written with the old key need that file.
                raise InputError(
                    f"{shown} is a symbolic link to {os.readlink(root / shown)}, which does "
                    "not exist",
                    hint="restore the file it points to (stores written with that key need "
                    "it), or remove the link",
                )
        except InputError as exc:
            raise InputError(
                f"{setting}: {exc.message}", file=at.file, line=at.line, hint=exc.hint
            ) from None
        out.append(
            Role(
                kind,
                environment.name,
                setting,
                shown,
                location,
                at.file,
                at.line,
                abstract=environment.abstract,
                target=target,
                environment_file=environment.file,
                shared=target in registry.shared_outputs,
                default=default,
            )
        )

    chosen = environment.store.settings()
    for field, kind in type(chosen).path_roles.items():
        setting = f"store.{environment.store.backend}.{field}"
        add(kind, setting, getattr(chosen, field), default=_default(chosen, field))
    for target, settings in environment.targets.items():
        for field, kind in type(settings).path_roles.items():
            setting = f"targets.{target}.{field}"
            add(kind, setting, getattr(settings, field), target, _default(settings, field))
    return out


def _default(settings: SettingsModel, field: str) -> str:
    default = type(settings).record_fields()[field].default
    return default if isinstance(default, str) else ""


def _settings(
    model: type[SettingsModel], data: dict[str, Any], doc: Document, where: tuple[str, ...]
) -> SettingsModel:
    try:
        return model.validate(data)
    except ValidationError as exc:
        raise doc.validation_error(exc, prefix=where, hint=_FORMAT_HINT) from None


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
