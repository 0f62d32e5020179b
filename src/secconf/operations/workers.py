"""Worker processes that share a command's environments: forked copies of the command
(the project already loaded), each taking its share, the command taking what a worker
has not begun once done with its own.

`plan`/`apply`/`check` (secconf.operations.deploy) and `render`
(secconf.operations.render) use them for the CPU work of many environments. Linux only:
elsewhere forking a running interpreter is not safe. A worker is forked before the
command starts a thread of its own, prints nothing, ignores Ctrl-C (the command ends
it) and ends with os._exit, so that nothing of the command's (buffered output, exit
handlers) runs twice.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

MIN_SHARE = 25  # by default, each process takes at least this many environments
MAX_PROCESSES = 4  # by default, at most this many processes (one per CPU below it)
STEAL_BATCH = 8  # environments the command takes at a time from a worker's share
CLAIM_SECONDS = 10.0  # a process holds a claims' lock for a few instructions
WAIT_SECONDS = 1.0  # how often a worker that has sent nothing is checked to be alive


def process_count(count: int, requested: int | None, *, forkable: bool) -> int:
    """How many processes share `count` environments: `requested`, else one per CPU
    this process may run on (at most MAX_PROCESSES, none with fewer than MIN_SHARE
    environments); 1 where the work cannot be forked (`forkable` False, or not Linux)."""
    if not forkable or not sys.platform.startswith("linux"):
        return 1
    if requested is not None:
        return max(1, min(requested, count))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, MAX_PROCESSES, count // MIN_SHARE))


def shares(items: Sequence[T], processes: int, *, first: float = 1.0) -> list[Sequence[T]]:
    """`items` cut into `processes` (or fewer) runs in order, the first the command's:
    `first` times the size of each of the others (less than 1: the command has other
    work to do before its own, and takes from the others' when done)."""
    if processes <= 1 or not items:
        return [items]
    head = max(1, round(len(items) * first / (processes - 1 + first)))
    size = max(1, -(-(len(items) - head) // (processes - 1)))
    return [items[:head], *(items[i : i + size] for i in range(head, len(items), size))]


class Claims:
    """The part of a worker's share that no process has begun, [front, back), in memory
    shared with the worker (made before the fork): the worker takes batches from the
    front, the command from the back. A lock not had within CLAIM_SECONDS (its holder
    died) ends the claiming: what nobody did is done by the command anyway."""

    def __init__(self, context: Any, size: int) -> None:
        self.lock = context.Lock()
        self.bounds = context.RawArray("q", [0, size])

    def front(self, count: int) -> tuple[int, int] | None:
        """The next `count` (or fewer) from the front, or None when none is left."""
        return self._take(count, from_back=False)

    def back(self, count: int) -> tuple[int, int] | None:
        """The last `count` (or fewer), or None when none is left."""
        return self._take(count, from_back=True)

    def _take(self, count: int, *, from_back: bool) -> tuple[int, int] | None:
        if not self.lock.acquire(timeout=CLAIM_SECONDS):
            return None
        try:
            front, back = self.bounds[0], self.bounds[1]
            if front >= back:
                return None
            if from_back:
                self.bounds[1] = start = max(front, back - count)
                return start, back
            self.bounds[0] = stop = min(back, front + count)
            return front, stop
        finally:
            self.lock.release()


class Worker:
    """One forked worker: its share, its claims, and the pipe it sends its result on."""

    def __init__(self, share: Sequence[Any], claims: Claims, receiver: Any, process: Any):
        self.share = share
        self.claims = claims
        self.receiver = receiver
        self.process = process

    def result(self) -> Any:
        """What the worker sent once done; None from a worker that died or failed. (A
        worker cannot hang for ever: what it waits for has a deadline.)"""
        try:
            while not self.receiver.poll(WAIT_SECONDS):
                if not self.process.is_alive():
                    return None
            return self.receiver.recv()
        except (EOFError, OSError, ValueError, TypeError):
            return None


@contextlib.contextmanager
def started(
    parts: Sequence[Sequence[Any]],
    work: Callable[[Sequence[Any], Claims, Any], None],
) -> Iterator[list[Worker]]:
    """A worker forked for each of `parts`, running `work(part, claims, sender)`; any
    still running when the block ends (an error here) are ended."""
    import gc
    import multiprocessing

    context = multiprocessing.get_context("fork")
    workers: list[Worker] = []
    # What exists now is frozen out of the workers' collections, which would otherwise
    # scan, and so copy, every page they share with this process (the gc.freeze advice);
    # unfrozen here after the fork, unless this process had frozen objects already (a
    # command: its start-up), which then stay frozen with the rest until it exits.
    frozen = gc.get_freeze_count()
    gc.freeze()
    try:
        try:
            for part in parts:
                claims = Claims(context, len(part))
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=work, args=(part, claims, sender))
                process.daemon = True  # never outlives this process
                process.start()
                sender.close()
                workers.append(Worker(part, claims, receiver, process))
        finally:
            if not frozen:
                gc.unfreeze()
        yield workers
    finally:
        for worker in workers:
            worker.receiver.close()
            if worker.process.is_alive():
                worker.process.terminate()
            worker.process.join()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection in this block, as in a worker (in_worker): while a
    command prepares and renders many environments it keeps nearly all it makes, so
    each collection scans, and frees nothing of, a growing heap: the 48 collections
    (44 young, 4 middle) that `render --all` of 1,000 environments ran in its main
    process took 60-90 ms here. What the block leaves is collected after it."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def in_worker(run: Callable[[], Any], sender: Any) -> None:
    """The body of a forked worker: `run()` with Ctrl-C left to the command and no
    garbage collection (a worker lives for one share, and a collection would only scan,
    and copy, pages it shares with the command); what it returns is sent, and the
    worker ends with os._exit. A worker that fails sends nothing: the command does its
    share itself."""
    import gc
    import signal

    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the command ends it
        gc.disable()
        sender.send(run())
        code = 0
    except BaseException:  # noqa: S110 - the command does whatever was not sent
        pass
    finally:
        with contextlib.suppress(OSError):
            sender.close()
        os._exit(code)
