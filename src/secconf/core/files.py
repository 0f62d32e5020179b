"""Writing files safely: atomically (temp file, made durable, rename), with the right
mode, and never leaving plaintext where git would pick it up.

Inside a config repo, temp files are staged in `.secconf/tmp/` (git-ignored, 0700),
named after the process that made them, mode 0600 from creation; the next run removes
those of processes that are gone. Only when that directory is on another file system
than the target (a rename cannot cross) is the temp made beside the target, as
`.NAME.PID.RANDOM.secconf-tmp`, a name that tells what it is (and that the `.gitignore`
`secconf init` writes covers). Outside a repo (`--out` to a place the user chose) the
temp is beside the target too, still 0600 and removed on failure.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secconf.core.errors import SecconfError
from secconf.core.paths import PRIVATE_DIR, is_under

STAGING = "tmp"  # .secconf/tmp
BESIDE_SUFFIX = ".secconf-tmp"
PRIVATE_MARKER = "# secconf: local files, never in git\n*\n"
_STALE_SECONDS = 3600  # no write of secconf takes that long: older temps are leftovers
_STAGED = re.compile(r"^(\d+)\.[0-9a-f]{12}\.")  # PID.RANDOM.NAME.tmp


class WriteError(SecconfError):
    """A file could not be written (disk full, read-only, permissions, not a directory)."""


def write_error(exc: OSError, shown: str) -> WriteError:
    """The one-line form of an OSError met while writing `shown` (never its content)."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return WriteError(
        f"cannot write {shown}: {reason}",
        hint="check the disk space, the permissions and that each parent is a directory; "
        "nothing was changed",
    )


def make_dirs(directory: Path) -> list[Path]:
    """Create `directory` and its missing parents, each mode 0700 whatever the umask;
    returns the directories this call created, outermost first."""
    missing = []
    current = Path(directory)
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    created = []
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # another process made it first: not ours
        os.chmod(path, 0o700)  # the umask may have taken bits away, never added
        created.append(path)
    return created


def remove_dirs(created: list[Path]) -> None:
    """Remove directories `make_dirs` created, innermost first, when they are empty."""
    for path in reversed(created):
        with contextlib.suppress(OSError):
            os.rmdir(path)


def no_symlink(directory: Path) -> None:
    """Refuse a directory reached through a symlink (a pull request can commit one, e.g.
    `.secconf -> ~/.ssh`): secconf's private files stay where they seem to be."""
    existing = Path(os.path.abspath(directory))
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if os.path.realpath(existing) != str(existing):
        raise WriteError(
            f"{directory} is reached through a symlink ({existing} is one, or is under one)",
            hint="secconf keeps its private files in a real directory of the config repo; "
            "remove the symlink",
        )


def private_directory(directory: Path) -> None:
    """Create `directory` (0700) with a .gitignore that ignores everything in it.

    The marker is written atomically: a run killed in between never leaves an empty
    .gitignore, which would let git see the master key.
    """
    no_symlink(directory)
    make_dirs(directory)
    marker = directory / ".gitignore"
    with contextlib.suppress(OSError):
        if marker.stat().st_size > 0:
            return
    tmp = directory / f".gitignore.{os.getpid()}.{os.urandom(4).hex()}{BESIDE_SUFFIX}"
    try:
        _write_new(tmp, PRIVATE_MARKER.encode(), 0o644)
        os.replace(tmp, marker)
    except OSError as exc:
        # Without its .gitignore, what goes into the directory would be seen by git.
        raise write_error(exc, str(marker)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def staging_directory(root: Path) -> Path:
    """`.secconf/tmp/` of the config repo at `root`: where temp files are made."""
    private_directory(root / PRIVATE_DIR)
    directory = root / PRIVATE_DIR / STAGING
    private_directory(directory)
    return directory


def new_temp(
    target: Path,
    root: Path | None,
    *,
    data: bytes,
    mode: int = 0o600,
    sync: bool = True,
    places: Places | None = None,
) -> Path:
    """A temp file holding `data` (fsynced, unless the caller syncs it: `sync`), made to
    be renamed onto `target`: in `.secconf/tmp/` of `root` when it is on the target's file
    system, else beside the target. Mode 0600 from creation; `mode` is set before it is
    renamed. `places`: what this caller (a transaction) found already, so that a
    thousand temps resolve the repository and each directory once."""
    tmp = _temp_name(target, root, places or Places())
    _write_new(tmp, data, mode, sync=sync)
    return tmp


def _temp_name(target: Path, root: Path | None, places: Places) -> Path:
    directory = _temp_place(target, root, places)
    if directory is None:
        return target.with_name(
            f".{target.name[:80]}.{os.getpid()}.{os.urandom(4).hex()}{BESIDE_SUFFIX}"
        )
    name = os.path.basename(target)
    return Path(f"{directory}{os.sep}{os.getpid()}.{os.urandom(6).hex()}.{name[:80]}.tmp")


@dataclass
class Places:
    """What placing temps found, for the next temp of the same caller: each repository
    resolved; its staging directory and that directory's device, once made; each
    target directory resolved, with its device; the directories known to exist. As
    text: a thousand temps of one render cost no path object each."""

    roots: dict[str, str] = field(default_factory=dict)
    staging: dict[str, tuple[str, int]] = field(default_factory=dict)
    directories: dict[str, tuple[str, int]] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)  # a temp's directory -> device
    present: set[str] = field(default_factory=set)  # target directories made or found

    def device(self, directory: Path | str) -> int:
        """The device (file system) of the directory a temp is made in, looked up once."""
        key = os.fspath(directory)
        found = self.devices.get(key)
        if found is None:
            found = self.devices[key] = os.stat(directory).st_dev
        return found


def _temp_place(target: Path, root: Path | None, places: Places) -> str | None:
    if root is None:
        return None
    key = os.fspath(root)
    real_root = places.roots.get(key)
    if real_root is None:
        real_root = places.roots[key] = os.path.realpath(root)
    target_text = os.fspath(target)
    head, name = os.path.split(target_text)
    parent = places.directories.get(head)
    if parent is None:  # a directory is resolved once; a target that is a symlink, each time
        real_parent = os.path.realpath(head)
        parent = places.directories[head] = (real_parent, os.stat(real_parent).st_dev)
    real_target = (
        os.path.realpath(target_text)
        if os.path.islink(target_text)
        else os.path.join(parent[0], name)
    )
    if not is_under(real_target, real_root):
        return None  # a place the user chose: the temp goes beside it
    staging = places.staging.get(real_root)
    if staging is None:
        directory = staging_directory(Path(real_root))
        staging = places.staging[real_root] = (os.fspath(directory), os.stat(directory).st_dev)
    if staging[1] != parent[1]:
        return None  # a rename cannot cross file systems
    return staging[0]


def _write_new(
    tmp: Path,
    data: bytes,
    mode: int,
    *,
    sync: bool = True,
    hold: Callable[[int], None] | None = None,
) -> None:
    """Create `tmp` holding `data`. `hold`: given the descriptor as soon as the file is
    created, before anything is written; it is then the caller's to close."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if hold is not None:
            hold(fd)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            view = memoryview(data)
            while view:  # a write may be short
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
            os.fchmod(fd, mode)  # the file we made (O_EXCL, O_NOFOLLOW), not a path
        finally:
            if hold is None:
                os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, root: Path | None = None, shown: str = ""
) -> bool:
    """Replace `path` with `data` in one step; returns False when it already held `data`.

    A reader sees the old file or the new one, never a mix; a crash leaves the old one
    and, at worst, a temp file in `.secconf/tmp/` of `root` (see the module docstring).
    An OSError becomes a one-line WriteError naming `shown` (default: the path).
    """
    path = Path(path)
    with contextlib.suppress(OSError):
        info = os.stat(path)
        same_mode = stat.S_ISREG(info.st_mode) and (info.st_mode & 0o777) == mode
        if same_mode and path.read_bytes() == data:
            return False
    transaction = Transaction(root)
    transaction.add(path, data, mode=mode, shown=shown or str(path))
    transaction.write()
    return True


@dataclass
class _Change:
    path: Path
    data: bytes = field(repr=False)
    mode: int
    shown: str
    tmp: Path | None = None
    before: bytes | None = field(default=None, repr=False)  # may hold secrets: never shown
    before_mode: int = 0o600
    created: list[Path] = field(default_factory=list)
    replaced: bool = False
    device: int | None = None  # of the temp's file system, when one syncfs makes it durable


class Transaction:
    """Many files written as one: every temp is staged first (any failure removes them
    and changes nothing), then all are renamed into place; when a rename fails, the
    files already replaced get their previous bytes back."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self.changes: list[_Change] = []
        self._places = Places()

    def add(self, path: Path, data: bytes, *, mode: int, shown: str) -> None:
        """One more file to write."""
        self.changes.append(_Change(Path(path), data, mode, shown))

    def write(self) -> None:
        """Stage every file, then rename them all; raises WriteError on failure."""
        self.stage()
        self.commit()

    def stage(self) -> None:
        """Write every temp file, then make them durable; on failure, remove them and
        raise WriteError."""
        # For one syncfs per file system: for each, the first temp made on it, open since
        # before anything was written there (see _sync_all).
        many = len(self.changes) >= _SYNCFS_FROM and _syncfs() is not None
        first: dict[int, tuple[int, str]] | None = {} if many else None
        try:
            for change in self.changes:
                try:
                    self._stage(change, first)
                except OSError as exc:
                    self.abort()
                    raise write_error(exc, change.shown) from None
                except BaseException:
                    self.abort()
                    raise
            try:
                _sync_all([c for c in self.changes if c.tmp is not None], first)
            except OSError as exc:
                self.abort()
                raise write_error(exc, exc.filename or "a staged file") from None
            except BaseException:
                self.abort()
                raise
        finally:
            for fd, _ in (first or {}).values():
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _stage(self, change: _Change, first: dict[int, tuple[int, str]] | None) -> None:
        with contextlib.suppress(FileNotFoundError):
            info = os.stat(change.path)
            if not stat.S_ISREG(info.st_mode):  # reading a FIFO would hang
                raise IsADirectoryError(errno.EISDIR, "it exists and is not a regular file")
            change.before = change.path.read_bytes()
            change.before_mode = info.st_mode & 0o777
        places = self._places
        parent = os.path.dirname(change.path)
        if parent not in places.present:  # a thousand outputs share a directory
            change.created = make_dirs(Path(parent))
            places.present.add(parent)
        change.tmp = tmp = _temp_name(change.path, self.root, places)
        hold = None
        if first is not None:
            device = places.device(os.path.dirname(tmp))
            change.device = device
            if device not in first:  # the first temp there: kept open from its creation on

                def hold(fd: int) -> None:
                    first[device] = fd, change.shown

        _write_new(tmp, change.data, change.mode, sync=False, hold=hold)

    def commit(self) -> None:
        """Rename every staged temp into place; on failure put back what was replaced."""
        for change in self.changes:
            assert change.tmp is not None, "stage() first"
            try:
                _replace(change.tmp, change.path)
                change.replaced = True
            except OSError as exc:
                self._undo()
                raise write_error(exc, change.shown) from None
            except BaseException:
                self._undo()
                raise
        for directory in {c.path.parent for c in self.changes}:
            _fsync_directory(directory)

    def abort(self) -> None:
        """Remove every staged temp and every directory staging created."""
        for change in reversed(self.changes):
            if change.tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(change.tmp)
                change.tmp = None
            remove_dirs(change.created)
        self._places.present.clear()  # those directories may be gone: a new stage looks again

    def _undo(self) -> None:
        for change in reversed(self.changes):
            if not change.replaced:
                continue
            with contextlib.suppress(OSError):
                if change.before is None:
                    os.unlink(change.path)
                else:
                    tmp = new_temp(
                        change.path, self.root, data=change.before, mode=change.before_mode
                    )
                    _replace(tmp, change.path)
            change.replaced = False
        self.abort()


def _replace(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # The staging directory and the target are on different file systems after all
        # (a bind mount): stage again beside the target.
        beside = new_temp(path, None, data=tmp.read_bytes(), mode=tmp.stat().st_mode & 0o777)
        os.unlink(tmp)
        os.replace(beside, path)


_SYNC_THREADS = 16
_SYNCFS_FROM = 16  # staged files from which one syncfs per file system beats an fsync each
# The file systems whose syncfs writes and commits what an fsync of each file would
# (not FUSE's, which skips the flush unless the server asks for it, nor overlayfs's).
# Btrfs is not among them: its files' device numbers are not the one mountinfo lists.
_SYNCFS_TYPES = frozenset({"ext4", "xfs", "f2fs", "tmpfs"})
_SYNCFS_KERNEL = (5, 17)  # before 5.17 a file system's failed commit was not reported
_MOUNTINFO_BYTES = 16 << 20


def _sync_all(changes: Sequence[_Change], first: Mapping[int, tuple[int, str]] | None) -> None:
    """Make every staged temp durable before any is renamed.

    `first` (Transaction.stage, for many files where syncfs exists): for each file
    system the temps are on, the descriptor of the first temp made there, opened before
    anything was written on it. On a local file system of _SYNCFS_TYPES, one syncfs(2)
    on that descriptor writes every temp there and commits them in one journal
    transaction (1,000 files: 16-22 ms here, against 60-190 ms for an fsync each from 16
    threads), and reports any write-back error on that file system since the descriptor
    was opened, even one that another process's sync saw first. Elsewhere, with few
    files, or where syncfs fails as not allowed or not there: an fsync each. (syncfs
    also writes what else is dirty on that file system: hence not for a few files.)"""
    if not first:
        _fsync_all(changes)
        return
    types = _mount_types()
    rest: list[_Change] = []
    for device, (fd, shown) in first.items():
        if types.get(device) not in _SYNCFS_TYPES or not _syncfs_once(fd, shown):
            rest.extend(c for c in changes if c.device == device)
    _fsync_all(rest)


def _syncfs_once(fd: int, shown: str) -> bool:
    """syncfs on `fd`: True once done, False when it may not or cannot be called here
    (a sandbox's seccomp filter: nothing was done), OSError naming `shown` if it failed."""
    import ctypes

    syncfs = _syncfs()
    if syncfs is None:
        return False
    if syncfs(fd) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EPERM, errno.EACCES):
        return False
    raise OSError(code, os.strerror(code), shown)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), on Linux 5.17 or later; None elsewhere."""
    if not sys.platform.startswith("linux") or _kernel(os.uname().release) < _SYNCFS_KERNEL:
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # no libc to load, or one without syncfs
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def _kernel(release: str) -> tuple[int, int]:
    """(major, minor) of a Linux release string ("6.1.0-18-amd64"); (0, 0) if unclear."""
    found = re.match(r"(\d{1,4})\.(\d{1,4})", release)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _mount_types() -> dict[int, str]:
    """Device number -> type of the file system mounted from it, from
    /proc/self/mountinfo (read at each call: mounts come and go); empty if unreadable
    or larger than _MOUNTINFO_BYTES (then an fsync each, as on a file system not known)."""
    from secconf.core.bounded import read_regular

    try:
        data = read_regular("/proc/self/mountinfo", _MOUNTINFO_BYTES)
    except OSError:
        return {}
    if len(data) > _MOUNTINFO_BYTES:
        return {}
    return parse_mountinfo(data.decode("utf-8", "replace"))


def parse_mountinfo(text: str) -> dict[int, str]:
    """Device number -> file system type, from the text of a mountinfo file (proc(5):
    `ID PARENT MAJOR:MINOR ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE OPTIONS`)."""
    types: dict[int, str] = {}
    for line in text.splitlines():
        fields, sep, rest = line.partition(" - ")
        parts, after = fields.split(), rest.split()
        if not sep or len(parts) < 3 or not after:
            continue
        major, colon, minor = parts[2].partition(":")
        if colon and major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit():
            with contextlib.suppress(OverflowError, ValueError):
                types.setdefault(os.makedev(int(major), int(minor)), after[0])
    return types


def _fsync_all(changes: Sequence[_Change]) -> None:
    """fsync every staged temp before any is renamed. Many at once: the file system
    commits concurrent fsyncs together, where a thousand in a row wait a thousand times.
    Each thread takes every Nth file: a task per file would cost as much as its fsync
    (1,000 files: 90-110 ms wall and 120-150 ms of CPU that way, 40-55 and 50-70 so)."""
    if len(changes) < 2:
        for change in changes:
            _fsync_file(change)
        return
    from concurrent.futures import ThreadPoolExecutor

    threads = min(_SYNC_THREADS, len(changes))
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(_fsync_files, [changes[k::threads] for k in range(threads)]):
            pass


def _fsync_files(changes: Sequence[_Change]) -> None:
    for change in changes:
        _fsync_file(change)


def _fsync_file(change: _Change) -> None:
    assert change.tmp is not None
    try:
        fd = os.open(change.tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        exc.filename = change.shown  # name the file the user asked for, not the temp
        raise


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_leftovers(root: Path) -> int:
    """Remove the temp files that killed runs left in `.secconf/tmp/` of `root` (those
    whose process is gone, or that are over an hour old) and beside secconf's own
    `.gitignore` files; returns how many were removed. Those beside outputs and stores:
    `remove_beside`."""
    removed = 0
    staging = root / PRIVATE_DIR / STAGING
    with contextlib.suppress(OSError, WriteError):
        no_symlink(staging)  # never sweep a directory outside the repo
        for entry in os.scandir(staging):
            match = _STAGED.match(entry.name)
            if match and _leftover(entry.path, int(match.group(1))):
                removed += _unlink(entry.path)
    markers = [root / PRIVATE_DIR / ".gitignore", root / PRIVATE_DIR / STAGING / ".gitignore"]
    return removed + remove_beside(markers)


def remove_beside(paths: Sequence[Path | str]) -> int:
    """Remove the temps that secconf makes beside each of `paths` (resolved) or that
    earlier versions made there, left by killed runs; each folder is listed once.
    Returns how many were removed."""
    by_directory: dict[str, set[str]] = {}
    for path in paths:  # resolved paths: split as text, as Path would
        directory, name = os.path.split(os.fspath(path))
        by_directory.setdefault(directory, set()).add(name)
    return sum(_remove_in(directory, names) for directory, names in by_directory.items())


def _remove_in(directory: Path | str, names: set[str]) -> int:
    """Remove the leftovers beside each of `names` in `directory`, listed once (a
    thousand outputs in one folder must not mean a thousand listings of it)."""
    removed = 0
    prefixes = {f".{name[:80]}." for name in names}
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.startswith(".") and any(
                _is_leftover(entry, entry.name[end:]) for end in _ends(entry.name, prefixes)
            ):
                removed += _unlink(entry.path)
    return removed


def _ends(name: str, prefixes: set[str]) -> Iterator[int]:
    """Where each of `prefixes` that `name` starts with ends (each `.` ends a candidate)."""
    end = name.find(".", 1)
    while end != -1:
        if name[: end + 1] in prefixes:
            yield end + 1
        end = name.find(".", end + 1)


def _is_leftover(entry: os.DirEntry[str], rest: str) -> bool:
    """`rest`: what follows `.NAME.` in the name of a file beside NAME."""
    ours = re.fullmatch(r"(\d+)\.[0-9a-f]{8}" + re.escape(BESIDE_SUFFIX), rest)
    if ours:
        return _leftover(entry.path, int(ours.group(1)))
    if re.fullmatch(r"[a-z0-9_]{8}\.tmp", rest):  # tempfile.mkstemp's, before 0.2
        return True
    old_key = re.fullmatch(r"(\d+)\.[0-9a-f]{8}", rest)  # a master key temp, before 0.2
    return old_key is not None and _leftover(entry.path, int(old_key.group(1)))


def _leftover(path: str, pid: int) -> bool:
    """True when the process that made a temp file is gone, or the file is stale."""
    if pid != os.getpid() and not _alive(pid):
        return True
    try:
        return time.time() - os.lstat(path).st_mtime > _STALE_SECONDS
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or a pid we cannot ask about)
    return True


def _unlink(path: str) -> int:
    try:
        os.unlink(path)
    except OSError:
        return 0
    return 1
