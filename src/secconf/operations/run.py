"""`secconf run`: a command started with an environment's settings, no file written.

The environment is prepared as `render` prepares it (non-production keys generated and
stored on first use, production never; validation errors refuse), then the delivered
values are added to the process environment of the command. On POSIX, secconf replaces
itself with the command (`os.execvpe`): signals, the terminal and the exit status are
the command's own. With `redact`, the command runs as a child instead: SIGINT, SIGTERM
and SIGHUP sent to secconf are passed on, and its stdout and stderr are rewritten on
the way so that every sensitive value shows as `[secconf:VARIABLE]`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from secconf.operations.project import Project

# What `--only` keeps of the current environment, besides the delivered variables.
KEPT_WITH_ONLY = ("PATH", "HOME", "LANG", "TERM")
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NOT_FOUND = 127  # as shells exit for a command they cannot find
NOT_EXECUTABLE = 126


@dataclass(frozen=True)
class Launch:
    """A command ready to start: its arguments, its whole environment (delivered values
    included), and the sensitive values with the label each shows as when redacted."""

    argv: tuple[str, ...]
    environ: dict[str, str] = field(repr=False)
    labels: dict[str, str] = field(repr=False)  # value -> "[secconf:NAME]"
    delivered: tuple[str, ...] = ()  # the names of the variables added


def prepare_run(
    project: Project,
    name: str,
    command: Sequence[str],
    *,
    only: bool,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> Launch:
    """The environment `name` prepared as `render` prepares it (keys it lacks stored now,
    outside production), and the command's environment: `environ` (default: this
    process's) plus the delivered values, or with `only` just those and KEPT_WITH_ONLY."""
    from secconf.operations.prepare import commit, prepare
    from secconf.render.base import delivered_values

    if not command:
        from secconf.core.errors import InputError

        raise InputError("no command to run", hint="secconf run --env NAME -- COMMAND [ARGS...]")
    current = dict(os.environ if environ is None else environ)
    prepared = prepare(project, project.environments.get(name), notify=notify, environ=current)
    prepared, _ = commit(prepared)  # generated once: the next run gets the same keys
    values = delivered_values(prepared.config)
    base = {k: v for k, v in current.items() if k in KEPT_WITH_ONLY} if only else current
    child = {**base, **{variable.name: text for variable, text in values}}
    labels = {text: f"[secconf:{variable.name}]" for variable, text in values if variable.sensitive}
    return Launch(tuple(command), child, labels, tuple(v.name for v, _ in values))


class CommandNotFound(Exception):
    """The command does not exist (exit 127) or cannot be executed (126)."""

    def __init__(self, command: str, reason: str, exit_code: int) -> None:
        super().__init__(f"{command}: {reason}")
        self.command = command
        self.reason = reason
        self.exit_code = exit_code


def exec_command(launch: Launch) -> NoReturn:
    """Replace this process with the command (POSIX); elsewhere run it and exit with its
    status. Raises CommandNotFound when it cannot start."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "posix":  # no exec that keeps the process: a child, its exit status
        import subprocess

        try:
            code = subprocess.call(list(launch.argv), env=launch.environ)  # noqa: S603
        except OSError as exc:
            raise _not_started(launch.argv[0], exc) from None
        raise SystemExit(code)
    try:
        os.execvpe(launch.argv[0], list(launch.argv), launch.environ)  # noqa: S606
    except OSError as exc:
        raise _not_started(launch.argv[0], exc) from None


def _not_started(command: str, exc: OSError) -> CommandNotFound:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return CommandNotFound(command, "command not found", NOT_FOUND)
    return CommandNotFound(command, exc.strerror or "cannot be executed", NOT_EXECUTABLE)


def run_redacted(launch: Launch, *, stdout: int = 1, stderr: int = 2) -> int:
    """Run the command as a child, its stdout and stderr rewritten (each sensitive value
    and its encoded forms as its label) onto the file descriptors `stdout` and
    `stderr`; SIGINT, SIGTERM and SIGHUP sent to this process are passed on. Returns
    the child's exit status (128 + N when signal N ended it, as shells report it)."""
    if not hasattr(signal, "pthread_sigmask") or not hasattr(os, "posix_spawnp"):
        raise NotImplementedError("--redact needs a POSIX system")
    waited = (*FORWARDED, signal.SIGCHLD)
    sys.stdout.flush()
    sys.stderr.flush()
    # Blocked before the child exists, so no signal meant for it is lost: they are
    # taken one by one below. The child starts with the mask this process had.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        pid, readers = _spawn(launch, previous, stdout, stderr)
        status = _wait(pid)
        for reader in readers:
            reader.join()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return _exit_status(status)


def _spawn(
    launch: Launch, mask: set[int | signal.Signals], stdout: int, stderr: int
) -> tuple[int, list[threading.Thread]]:
    pipes = [os.pipe(), os.pipe()]  # not inherited: only the dup2 copies reach the child
    actions = [(os.POSIX_SPAWN_DUP2, pipes[0][1], 1), (os.POSIX_SPAWN_DUP2, pipes[1][1], 2)]
    defaults = [s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s is not None]
    try:
        pid = os.posix_spawnp(
            launch.argv[0],
            list(launch.argv),
            launch.environ,
            file_actions=actions,
            setsigmask=mask,
            setsigdef=defaults,  # Python ignores SIGPIPE; the child must not
        )
    except OSError as exc:
        for read, write in pipes:
            os.close(read)
            os.close(write)
        raise _not_started(launch.argv[0], exc) from None
    readers = []
    for (read, write), target in zip(pipes, (stdout, stderr), strict=True):
        os.close(write)
        reader = threading.Thread(target=_copy, args=(read, target, launch.labels), daemon=True)
        reader.start()  # inherits the blocked mask: signals stay with the main thread
        readers.append(reader)
    return pid, readers


def _wait(pid: int) -> int:
    """Pass on each forwarded signal until the child ends; its wait status."""
    while True:
        info = signal.sigwaitinfo((*FORWARDED, signal.SIGCHLD))
        if info.si_signo != signal.SIGCHLD:
            # A signal from the terminal (Ctrl-C) reached the child already: the whole
            # foreground process group gets it. Any other sender's is passed on.
            if info.si_code != _SI_KERNEL:
                _send(pid, info.si_signo)
            continue
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status


_SI_KERNEL = 0x80  # si_code of a signal the kernel sent (a terminal's Ctrl-C, hang-up)


def _send(pid: int, signo: int) -> None:
    import contextlib

    with contextlib.suppress(ProcessLookupError):  # ended meanwhile: its SIGCHLD comes
        os.kill(pid, signo)


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _copy(source: int, target: int, labels: Mapping[str, str]) -> None:
    """Copy one of the child's streams, redacted, until it ends. When the reader of
    `target` is gone, the pipe is closed, so the child learns it as it would (EPIPE)."""
    from secconf.core.redact import StreamRedactor

    redactor = StreamRedactor(labels)
    try:
        while True:
            chunk = os.read(source, 1 << 16)
            if not chunk:
                _write_all(target, redactor.finish())
                return
            _write_all(target, redactor.feed(chunk))
    except BrokenPipeError:
        return
    finally:
        os.close(source)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
