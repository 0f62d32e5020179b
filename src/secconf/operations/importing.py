"""`secconf import`: bring an existing `.env` under secconf without a secret reaching git.

Each line is mapped to the schema. Non-sensitive values become literals in the
environment file; values secconf can generate (the JWT key, the VAPID pair) go into
the store under `{generate: true}`, so they are kept and can be rotated; other
sensitive values go into the store under `{from_store: true}`. Unknown names are
reported with a did-you-mean hint, never dropped silently. A second run changes
nothing.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

from secconf.core import redact
from secconf.core.errors import InputError, SecconfError
from secconf.core.files import write_atomic
from secconf.environment.editing import set_values, yaml_scalar
from secconf.environment.models import FromStore, Generate, LiteralValue
from secconf.operations.project import ENVIRONMENTS_DIR, Project
from secconf.schema.models import Schema, Variable
from secconf.store.base import SecretStore


@dataclass
class ImportReport:
    """What an import did, by variable name. Never a value."""

    environment: str
    env_file: str
    created_file: bool = False
    file_changed: bool = False
    literals: list[str] = field(default_factory=list)
    stored: list[tuple[str, str]] = field(default_factory=list)  # (name, created|updated|kept)
    unknown: list[tuple[str, str | None]] = field(default_factory=list)  # (name, did you mean)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)

    @property
    def complete(self) -> bool:
        """True when every line of the file was taken in."""
        return not self.unknown and not self.skipped


# An unknown name is shown only when it looks like one: a line of a multi-line value
# left unquoted (the middle of a PEM key) reads as a name too.
_SHOWN_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def read_dotenv(
    path: Path, known: Container[str] = ()
) -> tuple[dict[str, str | None], list[tuple[int, str]]]:
    """The variables of a .env file as python-dotenv reads them (no interpolation), and
    the lines to report by number only, with why: those it cannot parse (it would skip
    them with a log line), and those whose text may be part of a value (no `=`, or a
    name neither in `known` nor shaped like a variable name). Their text is registered
    as a secret."""
    from dotenv.parser import parse_stream

    if not path.is_file():
        raise InputError(f"no such file: {path}", hint="give the path of an existing .env file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {type(exc).__name__}") from None
    values: dict[str, str | None] = {}
    unreadable: list[tuple[int, str]] = []
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            unreadable.append((line, "python-dotenv cannot parse it"))
        elif binding.key is None:
            continue
        elif binding.key in known:
            values[binding.key] = binding.value
        elif binding.value is None or not _SHOWN_NAME.fullmatch(binding.key):
            for piece in (binding.key, binding.value):
                redact.register(piece or "")
            why = "no `=`" if binding.value is None else "not a variable name"
            unreadable.append((line, f"{why} (perhaps part of a multi-line value; not shown)"))
        else:
            values[binding.key] = binding.value
    return values, unreadable


def _plan(
    schema: Schema, values: dict[str, str | None], report: ImportReport
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Literal texts by name, and store writes by group name."""
    literals: dict[str, str] = {}
    groups: dict[str, dict[str, str]] = {}
    known = list(schema.variables)
    for name, value in values.items():
        variable = schema.variables.get(name)
        if variable is None:
            redact.register(value or "")  # an unknown name's value may be a secret
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            report.unknown.append((name, close[0] if close else None))
        elif value is None:
            report.skipped.append((name, "the line has no `=` and no value"))
        elif variable.generator is not None or variable.sensitive:
            redact.register(value)
            groups.setdefault(variable.group or name, {})[name] = value
        else:
            literals[name] = value
    for group, members in list(groups.items()):
        wanted = [v.name for v in schema.groups().get(group, ())]
        missing = [n for n in wanted if n not in members]
        if missing:
            del groups[group]
            for name in members:
                report.skipped.append(
                    (
                        name,
                        f"its pair ({', '.join(missing)}) is not in the file: a key pair is "
                        "imported together",
                    )
                )
    return literals, groups


def _wanted_lines(
    project: Project, env_name: str, literals: dict[str, str], groups: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The `values:` lines to write: only those that differ from what the file says."""
    current: dict[str, object] = {}
    if (project.root / ENVIRONMENTS_DIR / f"{env_name}.yaml").exists():
        current = dict(Project(project.root).environments.get(env_name).values)
    lines: dict[str, str] = {}
    for name, text in literals.items():
        source = current.get(name)
        if not (isinstance(source, LiteralValue) and source.text == text):
            lines[name] = yaml_scalar(text)
    for members in groups.values():
        for name in members:
            variable: Variable = project.schema.variables[name]
            kind: type = Generate if variable.generator is not None else FromStore
            if not isinstance(current.get(name), kind):
                lines[name] = "{generate: true}" if kind is Generate else "{from_store: true}"
    return lines


def _replaced_groups(
    project: Project, env_name: str, groups: dict[str, dict[str, str]]
) -> list[str]:
    """The groups whose stored values the import would change (a rotation, in effect)."""
    from secconf.store import open_store

    if not groups or not (project.root / ENVIRONMENTS_DIR / f"{env_name}.yaml").exists():
        return []
    store = open_store(project, project.environments.get(env_name))
    entries = store.read() if store.exists() else {}
    return [
        group
        for group, values in groups.items()
        if any(n in entries and entries[n].current.value.reveal() != v for n, v in values.items())
    ]


def _impact(project: Project, groups: list[str]) -> str:
    from secconf.keys.lifecycle import rotation_impact

    members = [v for v in project.schema.variables.values() if (v.group or v.name) in groups]
    return rotation_impact(members)


def import_dotenv(
    project: Project,
    env_name: str,
    dotenv_path: Path,
    *,
    notify: Callable[[str], None],
    replace: bool = False,
) -> ImportReport:
    """Import `dotenv_path` into environment `env_name` (its file is created if needed)."""
    from secconf.store import open_store

    env_file = project.root / ENVIRONMENTS_DIR / f"{env_name}.yaml"
    report = ImportReport(env_name, f"{ENVIRONMENTS_DIR}/{env_name}.yaml")
    values, unreadable = read_dotenv(dotenv_path, project.schema.variables)
    report.skipped += [(f"line {n}", why) for n, why in unreadable]
    literals, groups = _plan(project.schema, values, report)
    replacing = _replaced_groups(project, env_name, groups)
    if replacing and not replace:
        names = ", ".join(n for g in replacing for n in groups[g])
        raise SecconfError(
            f"importing would replace the stored {names} of {env_name}: "
            f"{_impact(project, replacing)}",
            hint="pass --yes to replace them (the current versions are kept as previous, "
            "so `secconf keys rollback` can restore generated keys)",
        )
    original = env_file.read_text(encoding="utf-8") if env_file.exists() else None
    lines = _wanted_lines(project, env_name, literals, groups)
    report.literals = list(literals)
    if lines:
        base = (
            original
            if original is not None
            else f"# Imported from {dotenv_path.name} by secconf import.\n"
        )
        write_atomic(env_file, set_values(base, lines, file=report.env_file).encode(), mode=0o644)
        report.file_changed = True
        report.created_file = original is None
    try:
        fresh = Project(project.root)
        environment = fresh.environments.get(env_name)  # the edited file must still load
        store = open_store(fresh, environment, notify=notify)
        for group, members in groups.items():
            report.stored += _store_group(store, group, members)
    except SecconfError:
        _restore(env_file, original)
        raise
    return report


def _store_group(store: SecretStore, group: str, values: dict[str, str]) -> list[tuple[str, str]]:
    names = list(values)
    entries, created = store.create(group, names, lambda: dict(values))
    if created:
        return [(n, "created") for n in names]
    if all(entries[n].current.value.reveal() == values[n] for n in names):
        return [(n, "kept") for n in names]
    store.rotate(group, names, lambda: dict(values))
    return [(n, "updated") for n in names]


def _restore(env_file: Path, original: str | None) -> None:
    if original is None:
        env_file.unlink(missing_ok=True)
    else:
        write_atomic(env_file, original.encode("utf-8"), mode=0o644)
