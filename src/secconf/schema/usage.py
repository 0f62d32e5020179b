"""Which environment variables Python code reads, found in its syntax tree (never run).

Reads: `os.environ["X"]`, `os.environ.get("X")` (and `setdefault`, `pop`), `"X" in
os.environ`, `os.getenv("X")` (also through `from os import environ, getenv`), and the
fields of `pydantic-settings` classes (subclasses of `BaseSettings`, directly or through
another class of the scanned code), with their `env_prefix` and their `alias` or
`validation_alias`. A name computed at run time is not known, and is not reported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_ENVIRON_METHODS = frozenset({"get", "setdefault", "pop"})
_SETTINGS_BASE = "BaseSettings"


@dataclass(frozen=True)
class Read:
    """One place the code reads an environment variable."""

    name: str
    file: str
    line: int
    case_sensitive: bool = True  # pydantic-settings matches names in any case by default


@dataclass
class _Class:
    name: str
    bases: list[str]
    file: str
    fields: list[tuple[str, int, list[str]]]  # (attribute, line, aliases)
    prefix: str | None = None
    case_sensitive: bool | None = None


@dataclass
class CodeIndex:
    """What the scanned files read; settings classes are resolved across files."""

    reads: list[Read] = field(default_factory=list)
    classes: list[_Class] = field(default_factory=list)

    def add(self, tree: ast.AST, file: str) -> None:
        """Index one parsed file."""
        for node in ast.walk(tree):
            read = _environ_read(node)
            if read is not None:
                self.reads.append(Read(read, file, getattr(node, "lineno", 0)))
            elif isinstance(node, ast.ClassDef):
                self.classes.append(_class(node, file))

    def all_reads(self) -> list[Read]:
        """Every read: environ and getenv, then the fields of settings classes."""
        return [*self.reads, *self._settings_reads()]

    def _settings_reads(self) -> Iterator[Read]:
        by_name: dict[str, list[_Class]] = {}
        for cls in self.classes:
            by_name.setdefault(cls.name, []).append(cls)
        settings = _settings_classes(self.classes)
        for cls in self.classes:
            if cls.name not in settings:
                continue
            prefix, sensitive = _config(cls, by_name, settings)
            for attribute, line, aliases in cls.fields:
                names = aliases or [prefix + attribute]
                for name in names:
                    shown = name if sensitive else name.upper()  # as the variable is written
                    yield Read(shown, cls.file, line, case_sensitive=sensitive)


def _settings_classes(classes: list[_Class]) -> set[str]:
    """Names of the classes that are BaseSettings, directly or through scanned classes:
    one walk from BaseSettings down to its subclasses, each class visited once."""
    children: dict[str, set[str]] = {}
    for cls in classes:
        for base in cls.bases:
            children.setdefault(base, set()).add(cls.name)
    settings: set[str] = set()
    queue = list(children.get(_SETTINGS_BASE, ()))
    while queue:
        name = queue.pop()
        if name not in settings:
            settings.add(name)
            queue += children.get(name, ())
    return settings


def _config(cls: _Class, by_name: dict[str, list[_Class]], settings: set[str]) -> tuple[str, bool]:
    """env_prefix and case_sensitive: the class's own, else the nearest settings base's."""
    prefix, sensitive = cls.prefix, cls.case_sensitive
    seen = {cls.name}
    queue = [b for b in cls.bases if b in settings]
    while queue and (prefix is None or sensitive is None):
        base = queue.pop(0)
        if base in seen:
            continue
        seen.add(base)
        for parent in by_name.get(base, []):
            prefix = parent.prefix if prefix is None else prefix
            sensitive = parent.case_sensitive if sensitive is None else sensitive
            queue += [b for b in parent.bases if b in settings]
    return prefix or "", bool(sensitive)


def _is_environ(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def _text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _environ_read(node: ast.AST) -> str | None:
    """The variable name a node reads from the environment, when it is a literal."""
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return _text(node.slice)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if isinstance(node.ops[0], ast.In | ast.NotIn) and _is_environ(node.comparators[0]):
            return _text(node.left)
        return None
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    is_getenv = (isinstance(func, ast.Attribute) and func.attr == "getenv") or (
        isinstance(func, ast.Name) and func.id == "getenv"
    )
    is_method = (
        isinstance(func, ast.Attribute)
        and func.attr in _ENVIRON_METHODS
        and _is_environ(func.value)
    )
    return _text(node.args[0]) if is_getenv or is_method else None


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):  # Generic[...] and the like
        return _base_name(node.value)
    return ""


def _class(node: ast.ClassDef, file: str) -> _Class:
    cls = _Class(node.name, [_base_name(b) for b in node.bases], file, [])
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            _field(cls, statement, statement.target.id)
        elif isinstance(statement, ast.Assign):
            targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
            if "model_config" in targets:
                _settings_config(cls, _keywords(statement.value))
        elif isinstance(statement, ast.ClassDef) and statement.name == "Config":
            _settings_config(cls, _class_constants(statement))  # pydantic v1 style
    return cls


def _field(cls: _Class, statement: ast.AnnAssign, attribute: str) -> None:
    if attribute == "model_config":
        _settings_config(cls, _keywords(statement.value))
        return
    if attribute.startswith("_") or _base_name(statement.annotation) == "ClassVar":
        return
    aliases: list[str] = []
    value = statement.value
    if isinstance(value, ast.Call):
        for keyword in value.keywords:
            if keyword.arg in ("alias", "validation_alias"):
                aliases += list(_strings(keyword.value))
    cls.fields.append((attribute, statement.lineno, aliases))


def _strings(node: ast.expr) -> Iterable[str]:
    """A literal name, or the literal names of `AliasChoices(...)`."""
    text = _text(node)
    if text is not None:
        yield text
    elif isinstance(node, ast.Call):
        for arg in node.args:
            text = _text(arg)
            if text is not None:
                yield text


def _keywords(node: ast.expr | None) -> dict[str, ast.expr]:
    """The settings of `SettingsConfigDict(...)` or of a dict literal."""
    if isinstance(node, ast.Call):
        return {k.arg: k.value for k in node.keywords if k.arg}
    if isinstance(node, ast.Dict):
        return {
            key: value
            for k, value in zip(node.keys, node.values, strict=True)
            if (key := _text(k)) is not None
        }
    return {}


def _class_constants(node: ast.ClassDef) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = statement.value
    return out


def _settings_config(cls: _Class, settings: dict[str, ast.expr]) -> None:
    if "env_prefix" in settings:
        cls.prefix = _text(settings["env_prefix"]) or ""
    value = settings.get("case_sensitive")
    if isinstance(value, ast.Constant) and isinstance(value.value, bool):
        cls.case_sensitive = value.value
