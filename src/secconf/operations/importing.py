"""`secconf import`: bring an existing `.env` under secconf without a secret reaching git.

Each line is mapped to the schema. Non-sensitive values become literals in the
environment file; values secconf can generate (the JWT key, the VAPID pair) go into
the store under `{generate: true}`, so they are kept and can be rotated; other
sensitive values go into the store under `{from_store: true}`. Unknown names are
reported with a did-you-mean hint, never dropped silently. A second run changes
nothing; the environment file and the store change together or not at all.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secconf.core import redact
from secconf.core.errors import InputError, SecconfError
from secconf.core.paths import PRIVATE_DIR
from secconf.environment.editing import set_values, yaml_scalar
from secconf.environment.models import ENV_NAME_PATTERN, FromStore, Generate, LiteralValue
from secconf.operations.project import ENVIRONMENTS_DIR, SCHEMA_DIR, Project
from secconf.schema.inference import Guess
from secconf.schema.models import Schema, Variable
from secconf.store.base import SecretStore

IMPORTED_SCHEMA = "90-imported.yaml"


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
    added: list[Guess] = field(default_factory=list)  # appended to the schema
    schema_file: str = f"{SCHEMA_DIR}/{IMPORTED_SCHEMA}"

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
        current = dict(project.environments.get(env_name).values)
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


def _impact(project: Project, groups: list[str]) -> str:
    from secconf.keys.lifecycle import rotation_impact

    members = [v for v in project.schema.variables.values() if (v.group or v.name) in groups]
    return rotation_impact(members)


def _refuse_replacing(
    project: Project, env_name: str, groups: dict[str, dict[str, str]], replacing: list[str]
) -> SecconfError:
    names = ", ".join(n for g in replacing for n in groups[g])
    return SecconfError(
        f"importing would replace the stored {names} of {env_name}: {_impact(project, replacing)}",
        hint="pass --yes to replace them (the current versions are kept as previous, "
        "so `secconf keys rollback` can restore generated keys)",
    )


def import_dotenv(
    project: Project,
    env_name: str,
    dotenv_path: Path,
    *,
    notify: Callable[[str], None],
    replace: bool = False,
    add_to_schema: bool = False,
) -> ImportReport:
    """Import `dotenv_path` into environment `env_name` (its file is created if needed).
    `add_to_schema`: names the schema lacks are first appended to
    `schema/90-imported.yaml`, with a guessed type and sensitivity.

    The environment file and the store change together or not at all: under a lock on
    the environment (so that concurrent imports lose nothing), the new file is staged,
    the store written in one atomic write (which refuses, under its own lock, to
    replace a stored value without `replace`), then the file renamed into place.
    """
    if not re.match(ENV_NAME_PATTERN, env_name):
        raise InputError(
            f"{env_name!r} is not a valid environment name",
            hint="use lower-case letters, digits, '-' and '_' (e.g. staging)",
        )
    report = ImportReport(env_name, f"{ENVIRONMENTS_DIR}/{env_name}.yaml")
    values, unreadable = read_dotenv(dotenv_path, project.schema.variables)
    report.skipped += [(f"line {n}", why) for n, why in unreadable]
    schema_lock = _lock(project, "schema") if add_to_schema else contextlib.nullcontext()
    with _environment_lock(project, env_name), schema_lock:
        fresh = Project(project.root)  # read afresh under the locks
        schema_text = None
        if add_to_schema:
            fresh, schema_text = _extended(fresh, values, report)
        literals, groups = _plan(fresh.schema, values, report)
        report.literals = list(literals)
        _import_locked(fresh, report, dotenv_path, literals, groups, notify, replace, schema_text)
    return report


_IMPORTED_HEADER = """\
# Variables that `secconf import --add-to-schema` found in a .env file and the schema
# did not declare: check each type, describe each, then move them to their section.
section: Imported
description: Variables imported from an existing .env file.
variables:
"""


def _entry(guess: Guess, column: int) -> str:
    """One variable as a list item whose keys start at `column` (at least 2)."""
    item, key = " " * (column - 2) + "- ", " " * column
    return (
        f"{item}name: {guess.name}\n"
        f"{key}type: {guess.type}\n"
        f"{key}sensitive: {'true' if guess.sensitive else 'false'}\n"
        f"{key}description: 'TODO: describe it (added by secconf import; type and "
        "sensitivity are guessed)'\n"
    )


def _extended(
    project: Project, values: dict[str, str | None], report: ImportReport
) -> tuple[Project, str | None]:
    """The project as it is once the names it lacks are appended to the imported
    schema file, and that file's new text (None when nothing is added)."""
    from secconf.schema.inference import guess
    from secconf.schema.loader import load_schema

    report.added = [
        guess(name, value)
        for name, value in values.items()
        if value is not None and name not in project.schema.variables
    ]
    if not report.added:
        return project, None
    path = project.root / SCHEMA_DIR / IMPORTED_SCHEMA
    if path.is_symlink():
        raise InputError(
            f"{report.schema_file} is a symlink; secconf will not write through it",
            hint="make it a regular file, or remove it",
        )
    original, column = _read_imported_schema(path, report.schema_file)
    text = (original or _IMPORTED_HEADER) + "".join(_entry(g, column) for g in report.added)
    other = Project(project.root)
    other.__dict__["schema"] = load_schema(
        project.root / SCHEMA_DIR, root=project.root, texts={IMPORTED_SCHEMA: text}
    )
    return other, text


def _read_imported_schema(path: Path, shown: str) -> tuple[str | None, int]:
    """The imported schema file's text, when it can take more entries at its end, and
    the column its entries' keys start at."""
    from secconf.core import yamlio

    if not path.exists():
        return None, 4
    text = yamlio.read_text(path)
    root = yamlio.compose_node(text, shown)
    last = root.value[-1] if isinstance(root, yamlio.MappingNode) and root.value else None
    items = last[1] if last is not None and last[0].value == "variables" else None
    if not (
        isinstance(items, yamlio.SequenceNode)
        and not items.flow_style
        and items.value
        and isinstance(items.value[-1], yamlio.MappingNode)
        and not items.value[-1].flow_style
        and items.value[-1].start_mark.column >= 2
    ):
        raise InputError(
            "secconf appends to this file only while `variables:` is its last key, a list "
            "of `- name: ...` blocks",
            file=shown,
            hint="move what follows `variables:` above it, or move the imported variables "
            "to another schema file",
        )
    column = items.value[-1].start_mark.column
    return (text if text.endswith("\n") else text + "\n"), column


def _import_locked(
    project: Project,
    report: ImportReport,
    dotenv_path: Path,
    literals: dict[str, str],
    groups: dict[str, dict[str, str]],
    notify: Callable[[str], None],
    replace: bool,
    schema_text: str | None = None,
) -> None:
    """The read, check and write of an import, under the environment's lock; `project`
    is read afresh under it. `schema_text`: the imported schema file, written with the
    environment file."""
    from secconf.core.files import Transaction
    from secconf.store import put_values
    from secconf.store.base import StoredValuesDiffer

    env_name = report.environment
    env_file = project.root / ENVIRONMENTS_DIR / f"{env_name}.yaml"
    original = env_file.read_text(encoding="utf-8") if env_file.exists() else None
    lines = _wanted_lines(project, env_name, literals, groups)
    if original is None and not lines:
        return  # nothing to import: no file is created for it
    text = (
        original
        if original is not None
        else f"# Imported from {dotenv_path.name} by secconf import.\n"
    )
    text = set_values(text, lines, file=report.env_file)
    # The edited file must load (and keep its paths to their roles) before anything is written.
    project = project.edited(env_name, text)
    environment = project.environments.get(env_name)
    store = project.open_store(environment, notify=notify) if groups else None
    if store is not None and not replace:
        replacing = _replaced_groups(store, groups)
        if replacing:
            raise _refuse_replacing(project, env_name, groups, replacing)
    transaction = Transaction(project.root)
    if schema_text is not None:
        schema_file = project.root / SCHEMA_DIR / IMPORTED_SCHEMA
        transaction.add(schema_file, schema_text.encode(), mode=0o644, shown=report.schema_file)
    if lines:
        transaction.add(env_file, text.encode("utf-8"), mode=0o644, shown=report.env_file)
    transaction.stage()
    undo = None
    try:
        if store is not None:
            statuses, undo = put_values(store, groups, replace=replace)
            report.stored = list(statuses.items())
    except StoredValuesDiffer as exc:  # changed since the check above, by another writer
        transaction.abort()
        raise _refuse_replacing(project, env_name, groups, exc.groups) from None
    except BaseException:
        transaction.abort()
        raise
    try:
        transaction.commit()
    except BaseException:
        if undo is not None:
            undo()  # the file stays as it was: so does the store
        raise
    report.file_changed = bool(lines)
    report.created_file = bool(lines) and original is None


def _replaced_groups(store: SecretStore, groups: dict[str, dict[str, str]]) -> list[str]:
    """The groups whose stored values the import would change (a rotation, in effect)."""
    entries = store.read() if store.exists() else {}
    return [
        group
        for group, values in groups.items()
        if any(n in entries and entries[n].current.value.reveal() != v for n, v in values.items())
    ]


def _environment_lock(project: Project, env_name: str) -> Any:
    """A lock on one environment file, in `.secconf/locks/` (not the store's lock: one
    process cannot take a file lock twice)."""
    return _lock(project, f"environment-{env_name}")


def _lock(project: Project, name: str) -> Any:
    """A lock file of `.secconf/locks/`; the schema's is taken after an environment's."""
    from secconf.core.files import private_directory
    from secconf.store.locking import hold

    locks = project.root / PRIVATE_DIR / "locks"
    private_directory(project.root / PRIVATE_DIR)
    private_directory(locks)
    return hold(
        locks / f"{name}.lock",
        60,
        hint="another `secconf import` is changing this environment or the schema; wait "
        "for it, then retry",
    )
