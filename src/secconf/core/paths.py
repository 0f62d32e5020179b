"""Where secconf may write: the one way path settings are filled, and the rules every
configured path (outputs, stores, key files) must follow.

Environment files are untrusted input (a pull request can change them), so a path they
give is filled without `str.format` (whose format specs and attribute lookups a file
could abuse), resolved with `..` and symlinks, and must keep to its role: an output
lands inside the config repo and never on a file secconf needs (its master key, a
store, an environment, schema or template file, `.git/`).
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NoReturn

from secconf.core.errors import InputError

MAX_PATH_CHARS = 4096  # what PATH_MAX allows on Linux; a longer setting is an attack

SCHEMA_DIR = "schema"
ENVIRONMENTS_DIR = "environments"
TEMPLATES_DIR = "templates"
PRIVATE_DIR = ".secconf"  # git-ignored: master key, locks, temp files, the output manifest
GIT_NAMES = frozenset({".git", ".gitignore", ".gitattributes", ".gitmodules"})


class PlaceholderError(InputError):
    """A path or name setting whose placeholders are not plain `{name}`s."""


def placeholder_names(template: str) -> list[str]:
    """The `{name}` placeholders of `template`; refuses format specs, conversions,
    attribute or index access, positional `{}` and unbalanced braces."""
    return list(_plan(template)[1])


def _parsed(template: str) -> tuple[tuple[str, str | None], ...]:
    """`template` as (literal text, placeholder name or None) pairs, checked."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise PlaceholderError(
            "unbalanced braces", hint="double the braces ({{ }}) for a literal brace"
        ) from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion is not None or not name.isidentifier():
            raise PlaceholderError(
                "a placeholder takes no format spec, conversion, attribute or index",
                hint="write plain placeholders such as {env}",
            )
    return tuple((text, name) for text, name, _, _ in parsed)


def fill(template: str, **values: str) -> str:
    """`template` with each `{name}` replaced by `values[name]`: the only way secconf
    fills a path or name setting. Bounded: the result is at most MAX_PATH_CHARS."""
    parsed, names, literal = _checked(template, values)
    if not names:
        return literal
    return "".join(text + (values[n] if n is not None else "") for text, n in parsed)


def check_fill(template: str, values: Mapping[str, str]) -> None:
    """Refuse what fill(template, **values) refuses, without filling it: for checking
    every setting of a thousand environments at load time."""
    _checked(template, values)


def _checked(template: str, values: Mapping[str, str]) -> _Plan:
    parsed, names, literal = _plan(template)
    unknown = [n for n in names if n not in values]
    if unknown:
        allowed = ", ".join("{" + n + "}" for n in sorted(values))
        raise PlaceholderError(
            f"unknown placeholder {{{unknown[0]}}}",
            hint=f"use {allowed}, or double the braces ({{{{ }}}}) for a literal brace",
        )
    size = len(literal) + sum(len(values[n]) for n in names)
    if size > MAX_PATH_CHARS:
        raise PlaceholderError(
            f"gives {size} characters, over the limit of {MAX_PATH_CHARS}",
            hint="a path or name setting is short",
        )
    return parsed, names, literal


_Plan = tuple[tuple[tuple[str, str | None], ...], tuple[str, ...], str]


def _planned(template: str) -> _Plan:
    """`_parsed(template)`, its placeholder names in order, and its literal text."""
    parsed = _parsed(template)
    names = tuple(n for _, n in parsed if n is not None)
    return parsed, names, "".join(text for text, _ in parsed)


_cached_plan = functools.lru_cache(maxsize=256)(_planned)


def _plan(template: str) -> _Plan:
    """_planned, remembered (a thousand environments fill the same few settings) for
    templates of at most MAX_PATH_CHARS characters: a longer one, which a file may hold
    but which never fills, is planned each time, so the cache stays small."""
    return _cached_plan(template) if len(template) <= MAX_PATH_CHARS else _planned(template)


def shown_path(root: Path | None, path: Path) -> str:
    """`path` as messages show it: relative to the config repo when inside it."""
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def resolve_in(root: Path, relative: str, cache: dict[str, str] | None = None) -> Path:
    """`relative` (a filled setting) as an absolute path with `..` and every symlink
    resolved, which is where a write to it would land. `cache`: resolved directories,
    for resolving many paths at once (one environment set's)."""
    return Path(resolved_text(root, relative, cache))


def resolved_text(root: Path | str, relative: str, cache: dict[str, str] | None = None) -> str:
    """What `resolve_in` resolves, as text: placement compares paths as strings."""
    if "\0" in relative:
        raise InputError("a path holds a NUL character", hint="remove it")
    try:
        joined = os.path.join(root, relative)
        head, tail = os.path.split(joined)
        if cache is None or tail in ("", ".", ".."):
            return os.path.realpath(joined)
        if head not in cache:
            cache[head] = os.path.realpath(head)
        candidate = os.path.join(cache[head], tail)
        return os.path.realpath(candidate) if os.path.islink(candidate) else candidate
    except (OSError, RuntimeError, ValueError):
        raise InputError(
            f"{relative} cannot be resolved (a symlink loop?)", hint="fix the symlinks"
        ) from None


RoleKind = Literal["output", "store", "key file"]


@dataclass(frozen=True)
class Role:
    """One configured path of one environment, and where it was set."""

    kind: RoleKind
    environment: str
    setting: str  # e.g. `targets.dotenv.path`
    shown: str  # the setting as filled in, for messages
    location: str  # resolved, as text (what the rules compare)
    file: str
    line: int | None
    abstract: bool = False  # an abstract environment (never rendered with --all)
    target: str | None = None  # outputs: the render target
    environment_file: str = ""  # the environment's own file (the setting may be inherited)
    shared: bool = False  # an output every environment shares (one file from the schema)
    default: str = ""  # the setting's default, for the hint of a refusal

    @functools.cached_property
    def path(self) -> Path:
        """The resolved path (made when first asked for: most roles are only checked)."""
        return Path(self.location)

    @property
    def inherited(self) -> bool:
        """True when the environment takes this setting from the one it extends."""
        return bool(self.environment_file) and self.file != self.environment_file


class Placement:
    """Every configured path of a config repo, checked against the rules once.

    Outputs: inside the repo; not in `.git`, `environments/`, `schema/`, `templates/`,
    `.secconf/` or a store's directory; not a store or key file; no two (environment,
    target) pairs of concrete environments on one file, but for `.env.example`. Stores
    and key files: inside the repo; not in `.git`, `environments/`, `schema/`,
    `templates/` or secconf's own `.secconf/tmp`, `.secconf/locks`; a store is never a key
    file nor another environment's store (environments may share a key file).
    """

    def __init__(self, root: Path, roles: Sequence[Role]) -> None:
        self.root = Path(os.path.realpath(root))
        self.roles = list(roles)
        self._by_key = {(r.environment, r.kind, r.target): r for r in self.roles}
        # Paths as strings from here on: pathlib's comparisons cost more than the rest of
        # loading a thousand environments.
        self._root = str(self.root)
        private = self._dir(PRIVATE_DIR)
        own = [self._dir(d) for d in (ENVIRONMENTS_DIR, SCHEMA_DIR, TEMPLATES_DIR)]
        internal = [os.path.join(private, name) for name in ("tmp", "locks", "outputs.json")]
        self._protected: dict[RoleKind, list[str]] = {
            "output": [*own, private],
            "store": [*own, *internal],
            "key file": [*own, *internal],
        }

    def check(self) -> None:
        """Raise a located InputError for the first path that breaks a rule."""
        self.check_each()
        self._check_outputs()
        self._check_stores_and_keys()

    def check_each(self) -> None:
        """The rules of each path alone (inside the repo, not secconf's own), without
        those between paths (no two on one file): enough before a path is read."""
        for role in self.roles:
            self._check_inside(role)
            self._check_not_secconfs_own(role)

    def path(self, environment: str, kind: RoleKind, target: str | None = None) -> Path:
        """The checked, resolved path of one role of one environment."""
        role = self._by_key.get((environment, kind, target))
        if role is None:
            raise InputError(f"environment {environment} has no {kind} path")
        return role.path

    def check_write(
        self,
        path: Path,
        environment: str,
        kind: RoleKind,
        target: str | None = None,
        *,
        cache: dict[str, str] | None = None,
    ) -> Path:
        """Defence in depth at write time: `path` must still resolve to its checked role.
        `cache`: the directories resolved by this caller's checks (resolved_text), for
        the thousand files of one render."""
        wanted = self.path(environment, kind, target)
        if resolved_text(self._root, os.fspath(path), cache) != str(wanted):
            raise InputError(
                f"{path} changed place since it was checked (a symlink was replaced?)",
                hint="run again",
            )
        return wanted

    # -- rules -------------------------------------------------------------------

    def _check_inside(self, role: Role) -> None:
        path = role.location
        if path == self._root:
            _refuse(role, "is the config repository itself", "name a file")
        if not is_under(path, self._root):
            _refuse(role, "is outside the config repository", _OUTSIDE_HINT)
        parts = path[len(self._root) :].split(os.sep)
        if any(part.lower() in GIT_NAMES for part in parts):  # .GIT is .git on macOS
            _refuse(role, "is a file of git's (.git, .gitignore...)", _OWN_HINT)

    def _check_not_secconfs_own(self, role: Role) -> None:
        path = role.location
        for directory in self._protected[role.kind]:
            if is_under(path, directory):
                shown = os.path.relpath(directory, self._root) + "/"
                _refuse(role, f"is inside {shown}, which holds secconf's own files", _OWN_HINT)

    def _check_outputs(self) -> None:
        # Lookups by path, not pairs of roles: a repo may have a thousand environments.
        kept: dict[str, Role] = {}
        for role in self.roles:
            if role.kind != "output":
                for path in _key_paths(role):
                    kept.setdefault(path, role)
        store_dirs = {os.path.dirname(r.location): r for r in self.roles if r.kind == "store"}
        store_dirs.pop(self._root, None)  # a store at the top: only the store itself is kept
        written: dict[str, Role] = {}
        for role in (r for r in self.roles if r.kind == "output"):
            path = role.location
            if path in kept:
                culprit, other = _culprit(role, kept[path])
                _refuse(culprit, f"is the {_what(other)}", _OWN_HINT)
            directory = path
            while is_under(directory, self._root):
                if directory in store_dirs:
                    store = store_dirs[directory]
                    _refuse(role, f"is inside the directory of the {_what(store)}", _OWN_HINT)
                directory = os.path.dirname(directory)
            if role.abstract:
                continue
            first = written.setdefault(path, role)
            if first is not role and not (role.shared and role.target == first.target):
                culprit, other = _culprit(role, first)
                _refuse(
                    culprit,
                    f"is also the {_what(other)}",
                    "give each environment and target an output path of its own",
                )

    def _check_stores_and_keys(self) -> None:
        keys: dict[str, Role] = {}
        stores: dict[str, Role] = {}
        for role in (r for r in self.roles if r.kind != "output"):
            for path in _key_paths(role):
                clash = stores.get(path) if role.kind == "store" else None
                if clash is not None and (role.abstract or clash.abstract):
                    clash = None  # an abstract environment's store is never used
                if clash is not None and clash.environment == role.environment:
                    clash = None
                clash = clash or (keys.get(path) if role.kind == "store" else stores.get(path))
                if clash is not None:
                    culprit, second = _culprit(role, clash)
                    _refuse(culprit, f"is the {_what(second)}", _OWN_HINT)
            for path in _key_paths(role):
                seen = stores if role.kind == "store" else keys
                if path not in seen or (seen[path].abstract and not role.abstract):
                    seen[path] = role  # a concrete environment's store wins: it is used

    def _dir(self, name: str) -> str:
        return os.path.realpath(os.path.join(self._root, name))


def is_under(path: str, directory: str) -> bool:
    """`path` is `directory` or inside it (both resolved, as text)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


_OUTSIDE_HINT = (
    "outputs, stores and key files stay inside the config repo; "
    "`secconf render --out PATH` writes anywhere you choose"
)
_OWN_HINT = ""  # the hint that fits the role: see _refuse
_ROLE_NAMES = {"output": "an output path", "store": "a store path", "key file": "a key file"}


def _default_hint(role: Role) -> str:
    what = f"{_ROLE_NAMES[role.kind]} of its own"
    return f"{what}, such as the default {role.default}" if role.default else what


def _key_paths(role: Role) -> tuple[str, ...]:
    # A key file has a second path: `store rekey` writes the new key beside it first.
    path = role.location
    return (path, path + ".new") if role.kind == "key file" else (path,)


def _what(role: Role) -> str:
    names = {"store": "store", "key file": "master key file", "output": "output"}
    where = f"{role.file}:{role.line}" if role.line else role.file
    return f"{names[role.kind]} of environment {role.environment} ({role.setting}, {where})"


def _culprit(one: Role, other: Role) -> tuple[Role, Role]:
    """Of two clashing roles, the one to blame and the other: an inherited setting (the
    environment must set its own), else one written in a file rather than a default."""
    if not one.inherited and (other.inherited or (one.line is None and other.line is not None)):
        one, other = other, one
    if one.inherited:
        where = f"{one.file}:{one.line}" if one.line else one.file
        setting = f"{one.setting} (inherited from {where})"
        one = replace(one, setting=setting, file=one.environment_file, line=None)
    return one, other


def _refuse(role: Role, why: str, hint: str) -> NoReturn:
    raise InputError(
        f"{role.setting}: {role.shown} {why}",
        file=role.file,
        line=role.line,
        hint=hint or f"give it {_default_hint(role)}",
    )


def outputs_of(roles: Iterable[Role]) -> list[Role]:
    """The output roles, for callers that sweep what earlier versions left beside them."""
    return [r for r in roles if r.kind == "output"]
