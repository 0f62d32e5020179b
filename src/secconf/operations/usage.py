"""`secconf schema usage PATH...`: the environment variables the code reads that the
schema does not declare (a CI gate), and the schema's variables no code reads.

Sources are parsed with `ast`, never imported or run. The walk is bounded: at most
MAX_FILES Python files, each at most MAX_FILE_BYTES (a larger one is skipped and
reported), hidden directories and virtual environments left out, symlinked directories
not followed.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secconf.core.errors import InputError
from secconf.operations.project import Project
from secconf.schema.usage import CodeIndex, Read

MAX_FILES = 20_000
MAX_FILE_BYTES = 2 * 1024 * 1024
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "build"})


@dataclass(frozen=True)
class Problem:
    """A file that was not read, and why (never its content)."""

    file: str
    line: int | None
    reason: str


@dataclass
class UsageReport:
    """Undeclared reads (the CI gate), unread schema variables, files not read."""

    files: int = 0
    undeclared: list[Read] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {
            "files": self.files,
            "undeclared": [
                {"name": r.name, "file": r.file, "line": r.line} for r in self.undeclared
            ],
            "unread": self.unread,
            "problems": [
                {"file": p.file, "line": p.line, "reason": p.reason} for p in self.problems
            ],
        }


def _python_files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for directory, dirs, files in os.walk(path):
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS
                )
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield Path(directory) / name
        else:
            raise InputError(
                f"{path}: no such file or directory", hint="give Python files or directories"
            )


def _parse(path: Path, report: UsageReport) -> ast.AST | None:
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            report.problems.append(
                Problem(shown, None, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, not read")
            )
            return None
        source = path.read_bytes()
    except OSError as exc:
        report.problems.append(Problem(shown, None, exc.strerror or "cannot be read"))
        return None
    try:
        return ast.parse(source, filename=shown)
    except SyntaxError as exc:
        report.problems.append(Problem(shown, exc.lineno, f"not valid Python: {exc.msg}"))
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, deep nesting
        report.problems.append(Problem(shown, None, f"cannot be parsed ({type(exc).__name__})"))
    return None


def _declared(read: Read, names: set[str], upper: set[str]) -> bool:
    return read.name in names or (not read.case_sensitive and read.name.upper() in upper)


def schema_usage(project: Project, paths: Sequence[Path]) -> UsageReport:
    """Compare what the Python sources under `paths` read with the schema's variables."""
    report = UsageReport()
    index = CodeIndex()
    for path in _python_files(paths):
        report.files += 1
        if report.files > MAX_FILES:
            raise InputError(
                f"more than {MAX_FILES} Python files under the given paths",
                hint="name the application's own source directories",
            )
        tree = _parse(path, report)
        if tree is not None:
            index.add(tree, str(path))
    names = set(project.schema.variables)
    upper = {n.upper() for n in names}
    reads = index.all_reads()
    seen: set[Read] = set()
    for read in reads:
        if not _declared(read, names, upper) and read not in seen:
            seen.add(read)
            report.undeclared.append(read)
    read_names = {r.name for r in reads}
    read_upper = {r.name.upper() for r in reads if not r.case_sensitive}
    report.unread = [
        n for n in project.schema.variables if n not in read_names and n.upper() not in read_upper
    ]
    return report
