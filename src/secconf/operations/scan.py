"""`secconf scan`: where the real sensitive values of the environments occur.

A scanner that guesses (gitleaks' regexes) misses a secret that looks like nothing and
flags random-looking text that is no secret. secconf knows the values: every sensitive
value of the selected environments (stored, generated, `from_env` when set, literals)
and its base64, base64url, URL-encoded and hex forms is looked for, all at once in one
pass over each file (`secconf.core.literals`), in the working tree (files git does not
ignore), the staged changes, or every commit of the history. Occurrences name the
file, line, commit, variable, environment and encoding, never the value.

In a git work tree, `git grep -l` (multi-threaded, faster than the search here; `-P`
with a few expressions that hold parts of every form, see _perl_patterns) first lists
the files that may hold a form, while secconf lists the files itself; only
those files are then read. The findings are the same as reading every file (the tests
compare both ways); anything git grep would read otherwise than secconf (an index entry
that is not a regular file, assume-unchanged, skip-worktree, a file that is not regular
or larger than MAX_FILE_BYTES, an error) is read by secconf, or, on any complaint of git
grep, every file is. Where the system can bound a process's memory (Linux), git grep
cannot hold more than MAX_FILE_BYTES, so no file's size needs checking here (a stat per
file: 50 ms of CPU for 20,000 files on a 2-core VM); a larger file stops it, and it is
run again unbounded, every file's size then checked.

Values shorter than MIN_LENGTH are not searched: they occur by chance in any text.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from secconf.core.errors import InputError
from secconf.operations.project import Project

if TYPE_CHECKING:
    from secconf.core.literals import Literals

MIN_LENGTH = 8
MAX_FILE_BYTES = 256 << 20  # larger files are not searched (listed as skipped)
CHUNK_BYTES = 8 << 20  # larger files are read in chunks of this size, overlapping
BATCH_BYTES = 4 << 20  # smaller files are searched together, this much at a time
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
    git_grep: bool = True,
) -> ScanResult:
    """Search the working tree (`paths`, default the current directory), or with
    `staged`/`history` the staged changes / every commit, for every sensitive value of
    `environments` (default: all) in each of its encodings. `git_grep`: in a git work
    tree, let `git grep` find the files that may hold a value and search only those
    (False: every file here, as outside git; the findings are the same)."""
    where = Path.cwd() if cwd is None else cwd
    result = ScanResult()
    tree = list(paths) or [where]
    working_tree = not staged and not history
    # git ls-files of the first directory runs while the values are resolved
    listing = _GitListing(tree[0]) if working_tree and tree[0].is_dir() else None
    try:
        needles = _needles(project, environments, result)
        searcher = _Searcher(needles, result)
        if staged:
            diff = ["diff", "--cached", *_DIFF_OPTIONS, "--", *map(str, paths)]
            searcher.diff(_git_lines(where, diff))
        if history:
            log = ["log", "--all", "-p", "--format=%x00commit %H", *_DIFF_OPTIONS, "--"]
            searcher.diff(_git_lines(where, [*log, *map(str, paths)]))
        if working_tree:
            patterns = _grep_patterns(_forms_by_value(needles)) if git_grep else None
            compiled = lambda: searcher.literals  # noqa: E731
            searcher.files(_working_tree(tree, where, result, patterns, listing, compiled))
    finally:
        if listing is not None:
            listing.close()
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
    seen: set[tuple[bytes, str, str]] = set()
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
                if (form, environment.name, name) in seen:
                    continue  # an environment that extends another: its values once
                seen.add((form, environment.name, name))
                needles.setdefault(form, []).append(Needle(name, environment.name, encoding))
    return needles


# -- searching -------------------------------------------------------------------------


class _Searcher:
    """Finds the needles in files and in diffs, and records the occurrences."""

    def __init__(
        self,
        needles: dict[bytes, list[Needle]],
        result: ScanResult,
        literals: Literals | None = None,
    ) -> None:
        self.needles = needles
        self.result = result
        self._literals = literals

    @property
    def literals(self) -> Literals:
        """The needles, compiled when first needed (in a work tree: while git grep runs)."""
        if self._literals is None:
            from secconf.core.literals import Literals

            self._literals = Literals(self.needles)
        return self._literals

    def _record(self, path: str, line: int, literal: bytes, commit: str | None) -> None:
        for needle in self.needles[literal]:
            self.result.occurrences.append(
                Occurrence(path, line, needle.variable, needle.environment, needle.encoding, commit)
            )

    def files(self, files: Iterable[tuple[str, str]]) -> None:
        """Search files of the working tree: in PARALLEL processes when there are many
        (RE2 keeps the GIL, so threads would take turns), each every Nth file."""
        items = list(files)
        if not items:
            return  # nothing to search: nothing to compile
        _ = self.literals  # compiled once, before the children start
        workers = _workers(len(items))
        children = [_fork(self, items[k::workers]) for k in range(1, workers)]
        self._files(items[0::workers])
        for pid, pipe in children:
            self._merge(pid, pipe)

    def _merge(self, pid: int, pipe: int) -> None:
        """Take what a child process found."""
        import json

        chunks = []
        with os.fdopen(pipe, "rb") as stream:
            chunks.append(stream.read())
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("a scanning process failed")
        found = json.loads(b"".join(chunks))
        self.result.occurrences.extend(Occurrence(*o) for o in found["occurrences"])
        self.result.files += found["files"]
        self.result.skipped.extend((p, why) for p, why in found["skipped"])

    def _files(self, files: Iterable[tuple[str, str]]) -> None:
        """Search files one by one. Files smaller than FIRST_READ are read straight into
        one buffer, each after a newline, and searched together, BATCH_BYTES at a time:
        one RE2 search call costs as much as some 100 KB of text, and no copy is made."""
        files = list(files)  # the buffer: no larger than they can fill (it is zeroed)
        buffer = bytearray(min(BATCH_BYTES, len(files) * (FIRST_READ + 1)) + FIRST_READ + 1)
        view = memoryview(buffer)
        batch: list[tuple[str, int, int]] = []  # shown, start, end in the buffer
        offset = 0
        for path, shown in files:
            if offset + FIRST_READ + 1 > len(buffer):
                self._batch(view[:offset], batch)
                batch, offset = [], 0
            read = _read_into(path, view[offset : offset + FIRST_READ])
            if isinstance(read, int):
                self.result.files += 1
                batch.append((shown, offset, offset + read))
                buffer[offset + read] = 10  # a newline: a form never spans two files' lines
                offset += read + 1
                continue
            kind, payload = read
            if kind == "data":
                assert isinstance(payload, bytes)
                self.result.files += 1
                self._search(shown, payload, b"", 0)
            elif kind == "large":
                self._file(path, shown)
            elif kind == "skip":
                assert isinstance(payload, str)
                self.result.skipped.append((shown, payload))
        self._batch(view[:offset], batch)
        view.release()

    def _batch(self, data: memoryview, batch: list[tuple[str, int, int]]) -> None:
        """Search files joined; an occurrence across two of them is no occurrence (the
        search goes on from the next byte, so none inside one is missed)."""
        if not batch:
            return
        starts = [begin for _, begin, _ in batch]
        for start, end, literal in self.literals.spans(data):
            shown, begin, stop = batch[bisect.bisect_right(starts, start) - 1]
            if end <= stop:
                line = data.obj.count(b"\n", begin, start) + 1  # type: ignore[attr-defined]
                self._record(shown, line, literal, None)

    def _file(self, path: str, shown: str) -> None:
        """Search one large file, in overlapping chunks."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError as exc:
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
            keep = max(self.literals.longest - 1, 0)
            carry, lines_before = b"", 0  # the end of the last chunk, and newlines before it
            while chunk := os.read(fd, CHUNK_BYTES):
                self._search(shown, carry + chunk, carry, lines_before)
                data = carry + chunk
                carry = data[-keep:] if keep else b""
                lines_before += data.count(b"\n", 0, len(data) - len(carry))
        except OSError as exc:
            self.result.skipped.append((shown, exc.strerror or "cannot be read"))
        finally:
            os.close(fd)

    def _search(self, shown: str, data: bytes, carry: bytes, lines_before: int) -> None:
        for start, end, literal in self.literals.spans(data):
            if end > len(carry):  # else found in the chunk before already
                line = lines_before + data.count(b"\n", 0, start) + 1
                self._record(shown, line, literal, None)

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


PARALLEL = 2  # processes for a large working tree (where the system can fork)
PARALLEL_FROM = 2000  # files: below this, one process


def _workers(files: int) -> int:
    if files < PARALLEL_FROM or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return 1
    return PARALLEL


def _fork(searcher: _Searcher, files: list[tuple[str, str]]) -> tuple[int, int]:
    """A child process that searches `files` and writes what it found to a pipe."""
    import dataclasses
    import json

    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    code = 1
    try:  # the child: nothing here may return into the caller's code
        os.close(read)
        own = ScanResult()
        _Searcher(searcher.needles, own, searcher.literals)._files(files)
        found = {
            "occurrences": [dataclasses.astuple(o) for o in own.occurrences],
            "files": own.files,
            "skipped": own.skipped,
        }
        with os.fdopen(write, "wb") as stream:
            stream.write(json.dumps(found).encode())
        code = 0
    finally:
        os._exit(code)


_Read = tuple[str, bytes | str | None]  # ("data", bytes) | ("large"|"none", None) | ("skip", why)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
FIRST_READ = 1 << 16  # a symlink is searched where it points


def _read_into(path: str, view: memoryview) -> int | _Read:
    """Read a file into `view` when it fits (the number of bytes); else its bytes when it
    is smaller than CHUNK_BYTES, or what to do with it."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return "none", None  # tracked, deleted in the work tree: nothing to search
    except OSError as exc:
        if os.path.islink(path):
            return "none", None  # a symlink: what it points to is searched where it is
        return "skip", exc.strerror or "cannot be read"
    try:
        # Most files are small: one read gives the whole file, no fstat needed (O_NONBLOCK:
        # a FIFO or a terminal gives nothing rather than waiting).
        count = os.readv(fd, [view])
        if count < len(view):
            return count
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "none", None
        if info.st_size >= CHUNK_BYTES:
            return "large", None
        data = bytes(view) + os.read(fd, info.st_size + 1 - count)
        return ("data", data) if len(data) <= info.st_size else ("large", None)
    except OSError as exc:
        return "skip", exc.strerror or "cannot be read"
    finally:
        os.close(fd)


# -- the working tree --------------------------------------------------------------------


def _working_tree(
    paths: Sequence[Path],
    cwd: Path,
    result: ScanResult,
    patterns: list[bytes] | None = None,
    first: _GitListing | None = None,
    meanwhile: Callable[[], object] = lambda: None,
) -> Iterator[tuple[str, str]]:
    """Each file to search, and how to show it: a named file as it is; in a directory of
    a git work tree the files git lists (tracked, and untracked ones not ignored), else
    every file under it (not in .git or .secconf, at most MAX_WALK_FILES). With
    `patterns` (see _grep_patterns), in a work tree only the files that `git grep` finds
    one of them in, and those it does not read as secconf does (_narrowed). `first`: the
    listing of paths[0], started already; `meanwhile`: work to do while git grep runs."""
    for index, path in enumerate(paths):
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        prefix = _shown(path, cwd)
        if not path.is_dir():
            yield str(path), prefix
            continue
        started = first if index == 0 and first is not None else _GitListing(path)
        grep = None
        if patterns and not started.failed():  # not when git already said: no work tree
            grep = _GitGrep.start(path, patterns)  # runs meanwhile
        listing = started.result()
        if listing is None:
            if grep is not None:
                grep.cancel()
            names: Iterable[str] = _walk(path, result)
        else:
            chosen = (
                listing[0] if grep is None else _narrowed(path, listing, grep, result, meanwhile)
            )
            names = map(os.fsdecode, chosen)
        base = str(path)
        for name in names:  # paths made as strings: a Path per file costs more than its search
            yield base + os.sep + name, name if prefix == "." else prefix + os.sep + name


# The names git lists; those git grep reads otherwise (special index entries); and the
# tracked ones deleted in the work tree.
_Listing = tuple[list[bytes], set[bytes], set[bytes]]


class _GitListing:
    """`git ls-files` of a directory: started at once, its result read when needed."""

    def __init__(self, directory: Path) -> None:
        command = ["git", "ls-files", "-z", "-s", "-v", "--cached", "--others", "--deleted"]
        self.process: subprocess.Popen[bytes] | None
        try:
            self.process = subprocess.Popen(  # noqa: S603
                [*command, "--exclude-standard"],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:  # no git, or no such directory
            self.process = None

    def failed(self) -> bool:
        """Known already: git cannot list the directory (not in a work tree, no git)."""
        return self.process is None or self.process.poll() not in (None, 0)

    def result(self) -> _Listing | None:
        """What _listed gives; None when the directory is not in a work tree."""
        if self.process is None:
            return None
        out, _ = self.process.communicate()
        return _listed(out) if self.process.returncode == 0 else None

    def close(self) -> None:
        """Stop it if it still runs (the scan stopped before it needed the listing)."""
        if self.process is not None and self.process.returncode is None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.communicate()


def _listed(out: bytes) -> _Listing:
    """The files git ls-files listed (relative to its directory, as git gives them), those
    of them whose index entry makes `git grep` read something else than the file (a
    symlink or a submodule in the index, assume-unchanged, skip-worktree: it reads the
    indexed blob or nothing), and the tracked ones deleted in the work tree (listed
    again with tag R: git grep skips them, secconf says it could not read them)."""
    names: dict[bytes, None] = {}  # a conflicted file is listed thrice
    special: set[bytes] = set()
    deleted: set[bytes] = set()
    for entry in out.split(b"\0"):
        if entry[:2] == b"? ":  # untracked: "? NAME"
            names[entry[2:]] = None
        elif entry:  # tracked: "TAG MODE OBJECT STAGE\tNAME"
            info, _, name = entry.partition(b"\t")
            if info[:1] == b"R":
                deleted.add(name)
                continue
            names[name] = None
            if info[:1] not in (b"H", b"M") or info[2:8] not in (b"100644", b"100755"):
                special.add(name)
    return list(names), special, deleted


# -- git grep: the files worth searching -------------------------------------------------

# Bytes git grep -f cannot take inside a pattern (a line each; a CR before the newline is
# dropped), and which git grep -F never matches across (lines).
_UNGREPPABLE = re.compile(rb"[\n\r\0]+")


def _forms_by_value(needles: dict[bytes, list[Needle]]) -> list[list[bytes]]:
    """The forms of each value searched (a value: a variable of an environment)."""
    groups: dict[tuple[str, str], list[bytes]] = {}
    for form, owners in needles.items():
        for needle in owners:
            groups.setdefault((needle.environment, needle.variable), []).append(form)
    return list(groups.values())


def _grep_patterns(groups: Iterable[Sequence[bytes]]) -> list[bytes] | None:
    """What to give `git grep -F`, from the forms of each value: byte strings such that
    every form holds one (_covering), each cut to its longest part without a newline, CR
    or NUL (a file that holds a form holds that part: the files git grep lists are all
    that can hold one); None when some form has no such part."""
    patterns: dict[bytes, None] = {}
    for forms in groups:
        for pattern in _covering(forms):
            part = max(_UNGREPPABLE.split(pattern), key=len)
            if not part:
                return None
            patterns[part] = None
    return list(patterns)


# Runs of bytes that forms of one value have in common: a value and its URL encoding
# (what quote() leaves as is), base64 and base64url (all but + / and - _), hex and HEX
# (their digits: 3 in 4 characters of a random key give two digits).
_SHARED_RUNS = (
    re.compile(rb"[A-Za-z0-9_.~-]+"),
    re.compile(rb"[A-Za-z0-9]+"),
    re.compile(rb"[0-9]+"),
)
SHARED_MIN = 16  # shorter shared runs are not used: they would match by chance


def _covering(forms: Sequence[bytes]) -> list[bytes]:
    """Fewer byte strings than `forms`, every form holding one of them: git grep takes
    time for each pattern, and some forms of a value share a long run."""
    runs = {max(r.findall(form), key=len, default=b"") for form in forms for r in _SHARED_RUNS}
    ranked = sorted(
        (run for run in runs if len(run) >= SHARED_MIN),
        key=lambda run: (-sum(run in form for form in forms), -len(run), run),
    )
    chosen: list[bytes] = []
    left = list(forms)
    for run in ranked:
        if sum(run in form for form in left) >= 2:
            chosen.append(run)
            left = [form for form in left if run not in form]
    return chosen + left


class _GitGrep:
    """`git grep -l` over a directory of a work tree, running while secconf lists the
    files: with `-P` and the few regular expressions _perl_patterns makes of the
    patterns (one pass over each file for each expression), or, where git has no PCRE,
    with `-F` and the patterns themselves (one pass for each pattern). The patterns
    (values!) go to its standard input, never its command line; what it prints on its
    standard error is never shown (it is only a sign that it could not read a file: then
    secconf searches every file itself). `bounded`: it cannot hold more than
    MAX_FILE_BYTES (_bound_data), so each file it read is at most that large."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        directory: Path,
        patterns: Sequence[bytes],
        bounded: bool,
        perl: bool,
    ) -> None:
        self.process = process
        self.directory = directory
        self.patterns = patterns
        self.bounded = bounded
        self.perl = perl

    @classmethod
    def start(
        cls, directory: Path, patterns: Sequence[bytes], *, bound: bool = True, perl: bool = True
    ) -> _GitGrep | None:
        """git grep started (`bound`: bounded where the system can; `perl`: with -P
        where that takes fewer passes), or None when it cannot be."""
        bound = bound and _DATA_LIMIT_HOLDS
        expressions = _perl_patterns(patterns) if perl else None
        perl = expressions is not None
        command = [
            "git",
            "-c",
            "grep.fullName=false",  # names relative to `directory`, as ls-files gives them
            "grep",
            f"--threads={_grep_threads()}",
            "--untracked",  # tracked and untracked files, ignored ones not: as listed
            "--no-recurse-submodules",  # whatever submodule.recurse says: as listed
            "--no-color",
            "--no-textconv",
            "-a",  # binary files as text
            "-P" if perl else "-F",
            "-l",
            "-z",
            "-f",
            "-",
        ]
        try:
            process = subprocess.Popen(  # noqa: S603
                command,
                cwd=directory,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "LC_ALL": "C"},  # bytes are bytes (no UTF mode for -P)
            )
        except OSError:
            return None
        # git reads every pattern before it reads a file: bounded before it reads one
        grep = cls(process, directory, patterns, bound and _bound_data(process.pid), perl)
        stdin, process.stdin = process.stdin, None  # sent and closed here, not by communicate()
        assert stdin is not None
        lines = expressions if expressions is not None else patterns
        try:  # git reads every pattern before it writes anything: this cannot block it
            stdin.write(b"".join(p + b"\n" for p in lines))
            stdin.close()
        except OSError:  # it exited early (not a work tree; -P: a git without PCRE?)
            grep.cancel()
            return cls.start(directory, patterns, bound=bound, perl=False) if perl else None
        return grep

    def hits(self) -> set[bytes] | None:
        """The files it found a pattern in; None when it failed or complained. A -P run
        that stopped other than for want of memory (a git built without PCRE, an
        expression PCRE refused) is run again with -F."""
        out, err = self.process.communicate()
        if self.perl and self.died() and b"Out of memory" not in err:
            again = _GitGrep.start(self.directory, self.patterns, bound=self.bounded, perl=False)
            if again is None:
                return None
            self.process, self.perl = again.process, False
            out, err = self.process.communicate()
        if self.process.returncode not in (0, 1) or err:
            return None
        hits = set(out.split(b"\0"))
        hits.discard(b"")
        return hits

    def died(self) -> bool:
        """It stopped on an error (e.g. it could not hold a file within its bound), not
        only complained about a file it could not read."""
        return self.process.returncode not in (0, 1)

    def cancel(self) -> None:
        """Stop it; what it found is not needed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


# -- git grep -P: one pass for many patterns ----------------------------------------------
#
# git grep -F makes one pass over a file for each pattern (11 patterns over 20,000 files:
# three times the CPU of one). Any part of a pattern is as good a sign that a file is
# worth reading, so the patterns are cut to parts that begin with the same byte, and
# each such group becomes one expression `B(?:rest|rest...)`, its alternatives a trie:
# PCRE2 finds B at memchr speed and tries the rest only there.

PERL_MIN = SHARED_MIN  # a part this long at least (or the whole pattern, when shorter)
PERL_PART = 32  # bytes of a part after its first: as sure a sign, a smaller expression
PERL_STARTS = 256  # a part begins within the first bytes of its pattern
PERL_GROUP = 128  # alternatives in one expression at most (PCRE2 bounds their size)
PERL_ROUNDS = 64  # expressions at most: with more, -F and the patterns
# Bytes frequent in text and code, the most frequent first: a group begins preferably
# with a rarer one (PCRE2 stops at each occurrence of it).
_FREQUENT = b" etaoinsrlhdcupmfgywb.,_=()'\"\t:;/-0123456789ETAOINSRLHDCUPMFGYWBkvxjqz"


def _perl_patterns(patterns: Sequence[bytes]) -> list[bytes] | None:
    """Regular expressions for git grep -P such that a line holding one of `patterns`
    matches one of them; None when they would be no fewer than the patterns (or more
    than PERL_ROUNDS). Greedy: each takes the patterns that most can begin with one byte."""
    unique = list(dict.fromkeys(patterns))
    if len(unique) > PERL_GROUP * PERL_ROUNDS:
        return None
    # for each pattern, where a part of it may begin with each byte (the first place)
    starts: dict[int, dict[int, int]] = {}
    count: dict[int, int] = {}  # byte -> patterns a part of which may begin with it
    for k, pattern in enumerate(unique):
        last = len(pattern) - min(len(pattern), PERL_MIN)
        places: dict[int, int] = {}
        for i, byte in enumerate(pattern[: min(last, PERL_STARTS) + 1]):
            places.setdefault(byte, i)
        starts[k] = places
        for byte in places:
            count[byte] = count.get(byte, 0) + 1
    expressions: list[bytes] = []
    while starts:
        if len(expressions) >= min(len(unique) - 1, PERL_ROUNDS):
            return None
        best = max(count, key=lambda b: (count[b], _rarity(b), -b))
        chosen = [k for k, places in starts.items() if best in places][:PERL_GROUP]
        parts = {unique[k][starts[k][best] + 1 :][:PERL_PART] for k in chosen}
        expressions.append(_perl_byte(best) + _perl_trie(sorted(parts)))
        for k in chosen:
            for byte in starts.pop(k):
                count[byte] -= 1
                if not count[byte]:
                    del count[byte]
    return expressions


def _rarity(byte: int) -> int:
    where = _FREQUENT.find(bytes([byte]))
    return len(_FREQUENT) if where < 0 else where


def _perl_trie(parts: list[bytes]) -> bytes:
    """An expression matching any of `parts` (sorted, distinct) at one place: their
    common beginnings once. A part that is the beginning of another makes the other
    needless (a line holding the longer holds it)."""
    if not parts or parts[0] == b"":
        return b""
    branches = []
    start = 0
    for end in range(1, len(parts) + 1):
        if end == len(parts) or parts[end][0] != parts[start][0]:
            rest = _perl_trie([part[1:] for part in parts[start:end]])
            branches.append(_perl_byte(parts[start][0]) + rest)
            start = end
    return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"


def _perl_byte(byte: int) -> bytes:
    """One byte as PCRE2 matches it literally (outside UTF mode)."""
    char = bytes([byte])
    return char if char.isalnum() else b"\\x%02x" % byte


GREP_THREADS = 8  # at most: each thread's stack counts in a bounded git grep's data


def _grep_threads() -> int:
    """Threads for git grep: two more than the cores, up to GREP_THREADS. Its threads
    wait on reads and on each other: with as many as the cores (git's default), on a
    2-core VM, 11 patterns over 20,000 files (200 MB) took 0.20 s, 283 ms of CPU and
    9,800 context switches; with two more 0.13 s, 225 ms and 1,600 (perf stat)."""
    return min((os.cpu_count() or 1) + 2, GREP_THREADS)


def _data_limit_holds() -> bool:
    """Whether RLIMIT_DATA bounds every allocation of a process (malloc's mmap too):
    Linux 4.7 and later, unless booted with ignore_rlimit_data."""
    if not sys.platform.startswith("linux"):
        return False
    release = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if release is None or (int(release[1]), int(release[2])) < (4, 7):
        return False
    try:
        with open("/sys/module/kernel/parameters/ignore_rlimit_data", "rb") as flag:
            return flag.read(1) != b"Y"
    except OSError:
        return True


_DATA_LIMIT_HOLDS = _data_limit_holds()


def _bound_data(pid: int) -> bool:
    """Bound the data of process `pid` to MAX_FILE_BYTES (RLIMIT_DATA). git grep reads
    each file whole into memory, so it then stops on any file larger than that (which
    secconf lists as not searched, unread) instead of holding it. False when the bound
    cannot be set."""
    import resource

    try:
        _, hard = resource.prlimit(pid, resource.RLIMIT_DATA)
        soft = MAX_FILE_BYTES if hard == resource.RLIM_INFINITY else min(MAX_FILE_BYTES, hard)
        resource.prlimit(pid, resource.RLIMIT_DATA, (soft, hard))
    except (OSError, ValueError, AttributeError):  # AttributeError: no prlimit here
        return False
    return True


def _narrowed(
    directory: Path,
    listing: _Listing,
    grep: _GitGrep,
    result: ScanResult,
    meanwhile: Callable[[], object] = lambda: None,
) -> list[bytes]:
    """The listed files to search: those git grep found a pattern in, and those it does
    not read as _read_into does (not a regular file, a special index entry, an error);
    every other regular file is counted as searched. Every listed file when git grep
    complained, or when a file is larger than MAX_FILE_BYTES (which secconf lists as not
    searched). A bounded git grep that stopped (a file it could not hold?) is run again
    unbounded, each file's size then checked here."""
    if grep.bounded:
        names, special, deleted = listing
        # git grep reads regular files only: secconf searches the rest itself
        own = special | deleted | _not_regular(directory, names)  # no size: the bound holds
        meanwhile()
        hits = grep.hits()
        if hits is not None:
            chosen = [name for name in names if name in hits or name in own]
            result.files += len(names) - len(chosen)
            return chosen
        if not grep.died():
            return names
        again = _GitGrep.start(directory, grep.patterns, bound=False, perl=grep.perl)
        if again is None:
            return names
        grep = again
    meanwhile()
    return _narrowed_by_size(directory, listing, grep, result)


def _not_regular(directory: Path, names: Sequence[bytes]) -> set[bytes]:
    """The entries of the directories of `names` that are not regular files (symlinks,
    directories, FIFOs...), from the directories' entries: no stat per file where the
    file system gives each entry's type. A listed name missing here (deleted since git
    listed it) counts as searched: there is nothing left to find in it."""
    base = os.fsencode(directory) + b"/"
    irregular = {name for name in names if name.endswith(b"/")}  # a repository inside
    unreadable: set[bytes] = set()
    for parent in {name.rpartition(b"/")[0] for name in names}:
        prefix = parent + b"/" if parent else b""
        try:
            with os.scandir(base + parent) as entries:
                irregular.update(
                    [prefix + e.name for e in entries if not e.is_file(follow_symlinks=False)]
                )
        except OSError:
            unreadable.add(parent)
    if unreadable:  # their files are read by secconf, which says why it could not
        irregular.update(name for name in names if name.rpartition(b"/")[0] in unreadable)
    return irregular


def _narrowed_by_size(
    directory: Path, listing: _Listing, grep: _GitGrep, result: ScanResult
) -> list[bytes]:
    """_narrowed after an unbounded git grep: the size of every listed file checked."""
    names, special, _ = listing  # a deleted file: lstat says so
    base = os.fsencode(directory) + b"/"
    regular: list[bytes] = []
    own: set[bytes] = set(special)  # searched by secconf, whatever git grep says
    for name in names:
        if name in special:
            continue
        try:
            info = os.lstat(base + name)
        except FileNotFoundError:
            continue  # tracked, deleted in the work tree: nothing to search
        except OSError:
            own.add(name)
            continue
        if stat.S_ISREG(info.st_mode):
            if info.st_size > MAX_FILE_BYTES:
                grep.cancel()
                return names
            regular.append(name)
        elif not stat.S_ISLNK(info.st_mode):  # a symlink is searched where it points
            own.add(name)
    hits = grep.hits()
    if hits is None:
        return names
    result.files += sum(name not in hits for name in regular)
    return [name for name in names if name in hits or name in own]


def _walk(directory: Path, result: ScanResult) -> Iterator[str]:
    count = 0
    for top, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        relative = os.path.relpath(top, directory)
        for name in sorted(files):
            count += 1
            if count > MAX_WALK_FILES:
                result.skipped.append((str(directory), f"more than {MAX_WALK_FILES} files"))
                return
            yield name if relative == "." else os.path.join(relative, name)


def _shown(path: Path, cwd: Path) -> str:
    """A path as reports show it: relative to the working directory when inside it."""
    if not path.is_absolute():
        return os.path.normpath(path)
    try:
        return os.path.normpath(path.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
