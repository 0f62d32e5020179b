"""Planning in worker processes (`--processes`): the same plans, checks and applies as one
process, the same requests for a run with nothing to change, and nothing that could carry
a value crossing from a worker to its parent."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.deploy import (
    MOUNT,
    Deployment,
    assert_no_leak,
    deploy_target,
    make_deployment,
    vault_secret_values,
)
from tests.support.vault_server import VaultServer

from secconf.operations import deploy as operations
from secconf.operations import workers

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="worker processes are forked on Linux only"
    ),
    # Python 3.12+ warns of a fork while other threads run: here the loopback servers',
    # whose locks a worker never takes (secconf forks before starting threads of its own).
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

NAMES = tuple(f"env{i:02d}" for i in range(12))
HAND_VALUE = "changed-by-hand-7d1c"


def plans(d: Deployment, command: str, processes: int) -> tuple[Any, list[dict[str, Any]]]:
    result = d.run(
        command, "--all", "--target", "vault", "--processes", str(processes), "--format", "json"
    )
    return result, [row["plan"] for row in json.loads(result.out)["environments"]]


def test_processes_plan_check_and_apply_as_one_process_does(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES)
    first = d.run("apply", "--all", "--target", "vault", "--yes", "--processes", "3")
    assert first.code == 0, first.both
    assert "12 applied, 0 unchanged, 0 failed" in first.err
    assert all(vault.kv_versions(MOUNT, d.vault_path(n)) == 1 for n in NAMES)

    if isinstance(vault, VaultServer):
        vault.reset_requests()
    again = d.run("apply", "--all", "--target", "vault", "--yes", "--processes", "3")
    assert again.code == 0 and "0 applied, 12 unchanged, 0 failed" in again.err, again.both
    for name in NAMES:
        assert f"{name}: planning done" in again.err  # progress of the workers' ones too
    if isinstance(vault, VaultServer):  # in sync: each environment read once, by someone
        assert vault.count("GET") == len(NAMES) and vault.count(writes_only=True) == 0
    _, alone = plans(d, "plan", 1)
    _, shared = plans(d, "plan", 3)
    assert shared == alone and len(shared) == len(NAMES)
    assert all(p["in_sync"] for p in shared)

    # Drift in the last worker's share: found, reported as one process reports it.
    drifted = NAMES[-1]
    live = vault.kv_read(MOUNT, d.vault_path(drifted))
    key = sorted(live)[0]
    vault.kv_write(MOUNT, d.vault_path(drifted), {**live, key: HAND_VALUE})
    check_alone, alone = plans(d, "check", 1)
    check_shared, shared = plans(d, "check", 3)
    assert check_shared.code == check_alone.code == 1, check_shared.both
    assert shared == alone
    assert [p["environment"] for p in shared if not p["in_sync"]] == [drifted]
    assert f"drift in {drifted}" in check_shared.err

    repair = d.run("apply", "--all", "--target", "vault", "--yes", "--processes", "3")
    assert repair.code == 0 and "1 applied, 11 unchanged, 0 failed" in repair.err, repair.both
    assert vault.kv_read(MOUNT, d.vault_path(drifted))[key] == live[key]
    assert_no_leak([first, again, check_shared, repair], vault_secret_values(vault, d))


def test_an_environment_that_fails_in_a_worker_fails_as_it_does_in_one_process(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES)
    assert d.run("apply", "--all", "--target", "vault", "--yes").code == 0
    broken = NAMES[-1]  # in the last worker's share
    monkeypatch.delenv(next(v for v in d.injected if broken in v.lower()))
    alone = d.run("plan", "--all", "--target", "vault", "--processes", "1")
    shared = d.run("plan", "--all", "--target", "vault", "--processes", "3")
    assert shared.code == alone.code == 2, shared.both
    assert f"{broken}: failed: " in shared.err
    assert shared.err.count(": failed: ") == alone.err.count(": failed: ") == 1
    assert shared.out == alone.out  # the other plans, in the same order


def test_workers_send_only_plans_in_sync_and_never_their_values(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from secconf.operations.project import Project

    names = tuple(f"env{i:02d}" for i in range(40))
    d = make_deployment(tmp_path, monkeypatch, unique, names=names)
    target = deploy_target("vault")
    project = Project.open(d.root)
    environments = [project.environments.get(n) for n in names]

    def planned() -> list[operations.Outcome]:
        return operations.plan_environments(
            project,
            environments,
            target,
            prune=False,
            generate=True,
            parallel=2,
            notify=lambda _message: None,
            processes=2,
        )

    first = planned()  # nothing live: every plan out of sync, all made in this process
    assert [o.environment for o in first] == list(names)
    assert all(o.plan is not None and o.plan.state is not None for o in first)
    applied = operations.apply_plans(first, target, parallel=2)
    assert all(o.result is not None and o.result.status == "applied" for o in applied)

    second = planned()
    assert [o.environment for o in second] == list(names)
    assert all(o.error is None and o.plan is not None and o.plan.in_sync for o in second)
    # Planned here: with the values apply would write. From the worker: the plan
    # without them, no store and no keys. The first half is this process's own; of the
    # worker's half, it takes what the worker had not begun when it was done.
    here = [o for o in second if o.plan is not None and o.plan.state is not None]
    sent = [o for o in second if o.plan is not None and o.plan.state is None]
    assert len(here) + len(sent) == len(names) and all(o.prepared is None for o in sent)
    assert second[: len(names) // 2] == here[: len(names) // 2]
    assert sent, "the worker planned none of its share"
    unchanged = operations.apply_plans(second, target, parallel=2)
    assert all(o.result is not None and o.result.status == "unchanged" for o in unchanged)


def test_how_many_processes_plan() -> None:
    vault_target, kube_target = deploy_target("vault"), deploy_target("kubernetes")
    cpus = len(os.sched_getaffinity(0))  # the CPUs this process may run on
    assert operations.plan_processes(1000, None, vault_target) == min(cpus, workers.MAX_PROCESSES)
    assert operations.plan_processes(workers.MIN_SHARE * 2 - 1, None, vault_target) == 1
    assert operations.plan_processes(10, 3, vault_target) == 3  # asked for: as many
    assert operations.plan_processes(2, 8, vault_target) == 2  # never more than environments
    assert operations.plan_processes(1000, 4, kube_target) == 1  # not forkable


def test_a_request_deadline_still_fires_in_a_forked_worker() -> None:
    """The deadline watchdog is a thread: a fork has none, so a worker makes its own (a
    slow Vault chosen by a pull request would otherwise hold a worker, and its parent,
    for ever)."""
    import multiprocessing
    import time

    from secconf.core import net

    with net.deadline(5):
        pass  # the parent's watchdog thread runs now

    def child(sender: Any) -> None:
        with net.deadline(0.2) as scope:
            time.sleep(0.6)
        sender.send(scope.fired)

    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(target=child, args=(sender,))
    process.start()
    assert receiver.poll(30) and receiver.recv() is True
    process.join(30)
