"""Races between secconf commands in real processes that start at the same instant.

Run as `python -m tests.support.races ROOT ROUNDS ENV,ENV...`: each round deletes the
stores of the listed environments, forks one `store rekey --env dev --yes` and one
`keys ensure --env E` per listed environment, releases them together through a pipe,
then checks that every store opens with the current master key (`keys status --all`).
Prints `LOST n OF ROUNDS`, n being the rounds that left a store unreadable or failed.

Forking a process that has already imported secconf makes a round take milliseconds,
not the second that starting interpreters would, so a few dozen rounds are cheap.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path


def _quiet(argv: list[str]) -> int:
    from secconf.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def _round(root: Path, fresh: list[str]) -> list[int]:
    commands = [["store", "rekey", "--env", "dev", "--yes"]]
    commands += [["keys", "ensure", "--env", name] for name in fresh]
    go_read, go_write = os.pipe()
    pids = []
    for command in commands:
        pid = os.fork()
        if pid == 0:  # the child: wait for the start signal, run, exit with the code
            os.read(go_read, 1)
            os._exit(_quiet(["--root", str(root), *command]))
        pids.append(pid)
    os.write(go_write, b"x" * len(pids))
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    os.close(go_read)
    os.close(go_write)
    return codes


def race(root: Path, rounds: int, fresh: list[str]) -> int:
    """The number of rounds that lost a store (or failed a command)."""
    lost = 0
    for _ in range(rounds):
        for name in fresh:
            (root / "secrets" / f"{name}.enc.yaml").unlink(missing_ok=True)
        codes = _round(root, fresh)
        if any(codes) or _quiet(["--root", str(root), "keys", "status", "--all"]) != 0:
            lost += 1
    return lost


if __name__ == "__main__":
    root, rounds, names = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
    print(f"LOST {race(root, rounds, names)} OF {rounds}")
