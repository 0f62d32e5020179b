"""`secconf scan`: where the real sensitive values of the environments occur.

A scanner that guesses (gitleaks' regexes) misses a secret that looks like nothing and
flags random-looking text that is no secret. secconf knows the values: every sensitive
value of the selected environments (stored, generated, `from_env` when set, literals)
and its base64, base64url, URL-encoded and hex forms is looked for, all at once in one
pass over each file (`secconf.core.literals`), in the working tree (files git does not
ignore), the staged changes, or every commit of the history. Occurrences name the
file, line, commit, variable, environment and encoding, never the value.

Values shorter than MIN_LENGTH are not searched: they occur by chance in any text.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from secconf.core.errors import InputError
from secconf.operations.project import Project

if TYPE_CHECKING:
    from secconf.core.literals import Literals

MIN_LENGTH = 8
MAX_FILE_BYTES = 256 << 20  # larger files are not searched (listed as skipped)
CHUNK_BYTES = 8 << 20  # files are read in chunks of this size, overlapping
MAX_WALK_FILES = 1_000_000  # outside git: the walk stops here (said in the result)
MAX_DIFF_SECTION = 16 << 20  # added lines of one file of one commit searched at a time
SKIPPED_DIRS = (".git", ".secconf")  # outside git: git's own and secconf's private files


@dataclass(frozen=True)
class Needle:
    """Whose form a found byte string is."""

    variable: str
    environment: str
    encoding: str  # plain | base64 | base64url | url | hex


@dataclass(frozen=True)
class Occurrence:
    """A sensitive value found: where, whose, in which encoding. Never the value."""

    path: str
    line: int
    variable: str
    environment: str
    encoding: str
    commit: str | None = None  # --history: the commit that added the line

    def to_dict(self) -> dict[str, object]:
        """For --format json."""
        return {
            "file": self.path,
            "line": self.line,
            "commit": self.commit,
            "variable": self.variable,
            "environment": self.environment,
            "encoding": self.encoding,
        }


@dataclass
class ScanResult:
    """What a scan found, what it searched, and what it could not search."""

    occurrences: list[Occurrence] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    values: int = 0  # sensitive values searched
    short: list[tuple[str, str]] = field(default_factory=list)  # (environment, variable)
    files: int = 0  # files (or changed files of commits) searched
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    @property
    def found(self) -> bool:
        """True when any value occurs: exit 1."""
        return bool(self.occurrences)


def scan(
    project: Project,
    paths: Sequence[Path] = (),
    *,
    environments: Sequence[str] = (),
    staged: bool = False,
    history: bool = False,
    cwd: Path | None = None,
) -> ScanResult:
    """Search the working tree (`paths`, default the current directory), or with
    `staged`/`history` the staged changes / every commit, for every sensitive value of
    `environments` (default: all) in each of its encodings."""
    from secconf.core.literals import Literals

    where = Path.cwd() if cwd is None else cwd
    result = ScanResult()
    needles = _needles(project, environments, result)
    literals = Literals(needles)
    searcher = _Searcher(literals, needles, result)
    if staged:
        searcher.diff(
            _git_lines(where, ["diff", "--cached", *_DIFF_OPTIONS, "--", *map(str, paths)])
        )
    if history:
        log = ["log", "--all", "-p", "--format=%x00commit %H", *_DIFF_OPTIONS, "--"]
        searcher.diff(_git_lines(where, [*log, *map(str, paths)]))
    if not staged and not history:
        for path, shown in _working_tree(list(paths) or [where], where, result):
            searcher.file(path, shown)
    result.occurrences.sort(key=lambda o: (o.commit or "", o.path, o.line, o.variable))
    return result


# -- the values ------------------------------------------------------------------------


def _needles(
    project: Project, names: Sequence[str], result: ScanResult
) -> dict[bytes, list[Needle]]:
    """Every form of every sensitive value of the environments, and whose it is."""
    from secconf.core.redact import named_forms
    from secconf.core.secret import reveal
    from secconf.operations.prepare import resolve_for_reading

    needles: dict[bytes, list[Needle]] = {}
    seen: set[tuple[str, str]] = set()
    for environment in project.select(names, all_=not names):
        result.environments.append(environment.name)
        config, _ = resolve_for_reading(project, environment, offline=False)
        for name, resolved in config.values.items():
            if not resolved.variable.sensitive or resolved.value is None:
                continue
            if resolved.provenance.kind == "default":
                continue  # the schema's own text, public by definition
            value = reveal(resolved.value)  # to look for it: never shown
            if len(value) < MIN_LENGTH:
                if value:
                    result.short.append((environment.name, name))
                continue
            result.values += 1
            for form, encoding in named_forms(value).items():
                if (form.hex(), environment.name + "\0" + name) in seen:
                    continue
                seen.add((form.hex(), environment.name + "\0" + name))
                needles.setdefault(form, []).append(Needle(name, environment.name, encoding))
    return needles


# -- searching -------------------------------------------------------------------------


class _Searcher:
    """Finds the needles in files and in diffs, and records the occurrences."""

    def __init__(
        self, literals: Literals, needles: dict[bytes, list[Needle]], result: ScanResult
    ) -> None:
        self.literals = literals
        self.needles = needles
        self.result = result

    def _record(self, path: str, line: int, literal: bytes, commit: str | None) -> None:
        for needle in self.needles[literal]:
            self.result.occurrences.append(
                Occurrence(path, line, needle.variable, needle.environment, needle.encoding, commit)
            )

    def file(self, path: Path, shown: str) -> None:
        """Search one file of the working tree, in overlapping chunks."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return  # tracked, deleted in the work tree: nothing to search
        except OSError as exc:
            if os.path.islink(path):
                return  # a symlink: what it points to is searched where it is
            self.result.skipped.append((shown, exc.strerror or "cannot be read"))
            return
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return
            if info.st_size > MAX_FILE_BYTES:
                self.result.skipped.append((shown, f"larger than {MAX_FILE_BYTES >> 20} MiB"))
                return
            self.result.files += 1
            self._chunks(fd, shown, info.st_size)
        except OSError as exc:
            self.result.skipped.append((shown, exc.strerror or "cannot be read"))
        finally:
            os.close(fd)

    def _chunks(self, fd: int, shown: str, size: int) -> None:
        keep = max(self.literals.longest - 1, 0)
        carry, lines_before = b"", 0  # the end of the last chunk, and newlines before it
        while True:
            chunk = os.read(fd, max(size + 1, 1) if size < CHUNK_BYTES else CHUNK_BYTES)
            if not chunk:
                return
            data = carry + chunk
            for start, end, literal in self.literals.spans(data):
                if end > len(carry):  # else found in the last chunk already
                    self._record(
                        shown, lines_before + data.count(b"\n", 0, start) + 1, literal, None
                    )
            if len(chunk) <= size and size < CHUNK_BYTES:
                return  # read whole at once
            carry = data[-keep:] if keep else b""
            lines_before += data.count(b"\n", 0, len(data) - len(carry))

    def diff(self, lines: Iterable[bytes]) -> None:
        """Search the added lines of `git diff` / `git log -p` output (-U0)."""
        commit: str | None = None
        path: str | None = None
        in_hunk = False
        added: list[tuple[int, bytes]] = []
        number = size = 0
        for raw in lines:
            line = raw.rstrip(b"\n")
            if in_hunk and line[:1] == b"+":
                added.append((number, line[1:]))
                number, size = number + 1, size + len(line)
                if size > MAX_DIFF_SECTION:  # searched in parts: memory stays bounded
                    self._added(path, commit, added)
                    size = 0
                continue
            if in_hunk and line[:1] in (b"-", b"\\", b" "):
                number += line[:1] == b" "
                continue
            if line.startswith(b"@@ "):
                in_hunk, number = True, _hunk_start(line)
                continue
            in_hunk = False
            if line.startswith((b"\0commit ", b"diff --git ")):
                self._added(path, commit, added)
                path, size = None, 0
                if line.startswith(b"\0commit "):
                    commit = line[len(b"\0commit ") :].decode("ascii", "replace")
            elif line.startswith(b"+++ "):
                path = _diff_path(line[4:])
        self._added(path, commit, added)

    def _added(self, path: str | None, commit: str | None, added: list[tuple[int, bytes]]) -> None:
        """Search the added lines gathered for one file (joined as they were)."""
        if not added:
            return
        if path is not None:
            self.result.files += 1
            text = b"\n".join(t for _, t in added)
            starts, offset = [], 0
            for _, t in added:
                starts.append(offset)
                offset += len(t) + 1
            import bisect

            for start, _, literal in self.literals.spans(text):
                index = bisect.bisect_right(starts, start) - 1
                self._record(path, added[index][0], literal, commit)
        added.clear()


def _hunk_start(line: bytes) -> int:
    """The first new line number of a hunk header `@@ -a,b +c,d @@`."""
    try:
        new = line.split(b" ")[2]  # +c,d
        return int(new[1:].split(b",")[0])
    except (IndexError, ValueError):
        return 0


def _diff_path(text: bytes) -> str | None:
    """The new path of a `+++ b/PATH` line (None for a deleted file)."""
    if text == b"/dev/null":
        return None
    if text.startswith(b'"'):  # quoted by git: C escapes
        import codecs

        text = codecs.escape_decode(text[1:-1])[0]
    return (
        text[2:].decode("utf-8", "replace")
        if text.startswith(b"b/")
        else text.decode("utf-8", "replace")
    )


_DIFF_OPTIONS = ["--no-color", "--no-ext-diff", "--text", "-U0", "--no-textconv"]


def _git_lines(cwd: Path, args: list[str]) -> Iterator[bytes]:
    """The output of a git command, line by line, streaming (bad input when it fails)."""
    command = ["git", "-c", "core.quotePath=false", *args]
    try:
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise InputError("git is not installed", hint="--staged and --history read git") from None
    assert process.stdout is not None and process.stderr is not None
    with process:
        yield from process.stdout
        error = process.stderr.read(4096).decode("utf-8", "replace").strip()
    if process.returncode != 0:
        from secconf.core.redact import quoted_message

        raise InputError(
            f"git {args[0]} failed in {cwd}: {quoted_message(error) or process.returncode}",
            hint="--staged and --history scan a git repository: run in one",
        )


# -- the working tree --------------------------------------------------------------------


def _working_tree(
    paths: Sequence[Path], cwd: Path, result: ScanResult
) -> Iterator[tuple[Path, str]]:
    """Each file to search, and how to show it: a named file as it is; in a directory of
    a git work tree the files git lists (tracked, and untracked ones not ignored), else
    every file under it (not in .git or .secconf, at most MAX_WALK_FILES)."""
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if not path.is_dir():
            yield path, _shown(path, cwd)
            continue
        listed = _git_files(path)
        for file in listed if listed is not None else _walk(path, result):
            yield file, _shown(file, cwd)


def _git_files(directory: Path) -> list[Path] | None:
    """The files git lists under `directory`, or None when it is not in a work tree."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        done = subprocess.run(  # noqa: S603
            command, cwd=directory, capture_output=True, stdin=subprocess.DEVNULL, check=False
        )
    except OSError:
        return None
    if done.returncode != 0:
        return None
    names = dict.fromkeys(done.stdout.split(b"\0"))  # a conflicted file is listed thrice
    return [directory / os.fsdecode(name) for name in names if name]


def _walk(directory: Path, result: ScanResult) -> Iterator[Path]:
    count = 0
    for top, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            count += 1
            if count > MAX_WALK_FILES:
                result.skipped.append((str(directory), f"more than {MAX_WALK_FILES} files"))
                return
            yield Path(top) / name


def _shown(path: Path, cwd: Path) -> str:
    try:
        return (
            str(path.resolve().relative_to(cwd.resolve()))
            if path.is_absolute()
            else (os.path.normpath(path))
        )
    except ValueError:
        return str(path)


def describe_short(result: ScanResult) -> list[str]:
    """`VARIABLE (environment)` for each value not searched for being short."""
    return [f"{variable} ({environment})" for environment, variable in result.short]
