"""`plan`, `apply` and `check`: render each environment with the repository's templates,
then compare what is live with exactly what render wrote, and write the difference.

Environments run concurrently in a bounded pool (plan: rendered in order by the calling
thread, read from the target by the pool meanwhile); one failing environment never stops
the others. Keys generated for a plan are stored right before apply writes anything
(plan and check never store them).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
import sys
import typing
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from secconf.core.errors import DeployError, InputError, SecconfError
from secconf.deploy.base import ApplyResult, Delivery, DeployOptions, DeployTarget, Plan
from secconf.environment.loader import Environment
from secconf.operations.project import Project

if TYPE_CHECKING:
    from secconf.deploy.base import ForkableTarget
    from secconf.operations.prepare import Prepared
    from secconf.render.registry import RenderTarget
    from secconf.render.templating import Templates

T = TypeVar("T")


@dataclass
class Outcome:
    """One environment's plan (and apply result), or the error that stopped it."""

    environment: str
    plan: Plan | None = None
    result: ApplyResult | None = None
    error: SecconfError | None = None
    # What the plan was made from: its keys generated in memory are stored right
    # before apply writes anything (plan and check never store them).
    prepared: Prepared | None = field(default=None, repr=False)


_Tell = Callable[[str, str], None]  # a notice about an environment: its name, the text
_Finish = Callable[[Outcome], None] | None  # told of each outcome as it is final


def deployable() -> list[str]:
    """The render targets plan/apply/check can deliver (those that name an adapter)."""
    from secconf.render.registry import deployable as targets

    return targets()


def deploy_target(name: str, options: DeployOptions) -> DeployTarget:
    """The deploy adapter the render target `name` declares, built with `options`."""
    from secconf.render.registry import targets

    spec = targets()[name].deploy if name in targets() else None
    if spec is None:
        raise InputError(
            f"{name} is not a target plan/apply/check deliver to",
            hint=f"use one of: {', '.join(deployable())}",
        )
    module, _, attribute = spec.partition(":")
    adapter: Callable[[DeployOptions], DeployTarget] = getattr(
        importlib.import_module(module), attribute
    )
    return adapter(options)


def plan_environments(
    project: Project,
    environments: Sequence[Environment],
    target: DeployTarget,
    *,
    prune: bool,
    generate: bool,
    parallel: int,
    notify: Callable[[str], None],
    done: Callable[[Outcome], None] | None = None,
    templates_dir: Path | None = None,
    processes: int = 1,
) -> list[Outcome]:
    """Prepare, render and plan every environment concurrently; errors stay with their
    environment. What is planned is what `render --target` writes from the templates
    (`templates_dir`, else the repository's). With `processes` > 1 (see plan_processes),
    that many processes share the environments (_planned_in_workers)."""
    from secconf.core.paths import TEMPLATES_DIR
    from secconf.operations.prepare import prepare
    from secconf.render.registry import get
    from secconf.render.templating import Templates

    # Loaded once, before the threads (and the worker processes) share them.
    _ = project.schema
    renderer = get(target.name)
    templates = Templates(templates_dir or project.root / TEMPLATES_DIR)

    def planner(tell: _Tell, finish: _Finish) -> Callable[[Sequence[Environment]], list[Outcome]]:
        def told(outcome: Outcome) -> Outcome:
            if finish is not None:
                finish(outcome)
            return outcome

        def rendered(environment: Environment) -> Outcome | Callable[[], Outcome]:
            try:
                said = functools.partial(tell, environment.name)
                prepared = prepare(project, environment, notify=said, generate=generate)
                delivery = _delivery(prepared, renderer, templates)
            except SecconfError as exc:
                return told(Outcome(environment.name, error=exc))
            return functools.partial(planned, environment, prepared, delivery)

        def planned(environment: Environment, prepared: Prepared, delivery: Delivery) -> Outcome:
            try:
                plan = target.plan(delivery, prune=prune)
                return told(Outcome(environment.name, plan=plan, prepared=prepared))
            except SecconfError as exc:
                return told(Outcome(environment.name, error=exc))

        # Rendering is CPU work, reading the target mostly waiting: the calling thread
        # renders, in order, while the pool reads the target for those already rendered.
        return lambda items: _run(rendered, items, parallel)

    if processes > 1 and len(environments) > 1:
        return _planned_in_workers(environments, processes, planner, target, notify, done)
    return planner(lambda _name, message: notify(message), done)(environments)


# -- worker processes --------------------------------------------------------------------

MIN_SHARE = 25  # by default, each process plans at least this many environments
MAX_PROCESSES = 4  # by default, at most this many processes (one per CPU below it)
WORKER_BATCH = 16  # a worker plans this many at a time, and stops when most come back


def plan_processes(count: int, requested: int | None, target: DeployTarget) -> int:
    """How many processes plan `count` environments: `requested`, else one per CPU (at
    most MAX_PROCESSES, none with fewer than MIN_SHARE environments); 1 where a worker
    cannot be forked safely (Linux only: elsewhere forking a running interpreter is not
    safe) or the target cannot plan in one (ForkableTarget)."""
    if not getattr(target, "forkable", False) or not sys.platform.startswith("linux"):
        return 1
    if requested is not None:
        return max(1, min(requested, count))
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES, count // MIN_SHARE))


# What a worker sends for an environment of its share: the plan (without the values apply
# would write) and the notices its planning gave; or None: plan it here.
_WorkerResult = tuple[Plan, list[str]] | None
_Planner = Callable[[_Tell, _Finish], Callable[[Sequence[Environment]], list[Outcome]]]


def _planned_in_workers(
    environments: Sequence[Environment],
    processes: int,
    planner: _Planner,
    target: DeployTarget,
    notify: Callable[[str], None],
    done: _Finish,
) -> list[Outcome]:
    """Plan with `processes` processes: this one plans the first share; forked workers
    (copies of this process: the project already loaded) plan the others, each with its
    own connections, and send back over a pipe only what is safe to: the plan of an
    environment in sync (its keys by fingerprint) and its notices. The environments a
    worker finds out of sync, with keys to generate or with an error, and those it did
    not plan (it stops once most of a batch come back; it failed), are planned again
    here: what apply writes, the keys it stores and the errors it reports are this
    process's own, and no value or key leaves a process. So the common run (nothing
    changed: a CI re-apply, `check`) is planned once, on every CPU, and a first apply
    reads at most WORKER_BATCH environments per worker twice."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    size = -(-len(environments) // processes)
    shares = [environments[i : i + size] for i in range(0, len(environments), size)]
    workers = []
    for share in shares[1:]:
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(target=_worker, args=(planner, share, target, sender))
        worker.daemon = True  # never outlives this process
        worker.start()
        sender.close()
        workers.append((share, receiver, worker))
    here = planner(lambda _name, message: notify(message), done)
    outcomes = here(shares[0])
    told: set[str] = set()
    for share, receiver, worker in workers:
        results, notices = _received(receiver)
        worker.join()
        replanned = iter(here([e for e in share if results.get(e.name) is None]))
        for environment in share:
            result = results.get(environment.name)
            if result is None:
                outcomes.append(next(replanned))
                continue
            plan, said = result
            for message in said:
                notify(message)
            outcome = Outcome(environment.name, plan=plan)
            if done is not None:
                done(outcome)
            outcomes.append(outcome)
        for message in notices:  # the target's own (where the token goes...): once
            if message not in told:
                told.add(message)
                notify(message)
    return outcomes


def _received(receiver: Any) -> tuple[dict[str, _WorkerResult], list[str]]:
    """What a worker sent: its result for each environment it planned and the target's
    notices; nothing from a worker that died or failed."""
    try:
        results, notices = receiver.recv()
        return dict(results), list(notices)
    except (EOFError, OSError, ValueError, TypeError):
        return {}, []
    finally:
        receiver.close()


def _worker(
    planner: _Planner, share: Sequence[Environment], target: DeployTarget, sender: Any
) -> None:
    """In a forked worker: plan `share` as this process would, WORKER_BATCH at a time,
    and send the result of each environment planned (see _WorkerResult) and the
    target's notices, once at the end: a pipe holds 64 KiB, and a worker that waited
    for its parent to read would not plan meanwhile. It stops after a batch of which
    most would be planned again (a first apply). Nothing is printed here."""
    import threading

    lock = threading.Lock()  # the pool's threads finish environments
    notices: list[str] = []
    said: dict[str, list[str]] = {}
    results: list[tuple[str, _WorkerResult]] = []
    typing.cast("ForkableTarget", target).forked(notices.append)

    def tell(name: str, message: str) -> None:
        said.setdefault(name, []).append(message)

    def finish(outcome: Outcome) -> None:
        result = _shareable(outcome, said.pop(outcome.environment, []))
        with lock:
            results.append((outcome.environment, result))

    plan = planner(tell, finish)
    try:
        for start in range(0, len(share), WORKER_BATCH):
            batch = share[start : start + WORKER_BATCH]
            before = len(results)
            plan(batch)
            if 2 * sum(r is not None for _, r in results[before:]) < len(batch):
                break
        sender.send((results, notices))
    except Exception:  # noqa: S110 - the parent plans whatever was not sent
        pass
    finally:
        sender.close()


def _shareable(outcome: Outcome, notices: list[str]) -> _WorkerResult:
    """What a worker may send of an outcome: a plan in sync (no value to write, no key
    generated, no error), without its state; else None."""
    plan = outcome.plan
    if outcome.error is not None or plan is None or not plan.in_sync:
        return None
    if outcome.prepared is not None and outcome.prepared.pending:
        return None
    return dataclasses.replace(plan, state=None), notices


def _delivery(prepared: Prepared, renderer: RenderTarget, templates: Templates) -> Delivery:
    """What render writes for the environment, as the target delivers it."""
    from secconf.render.base import RenderInput

    config = prepared.config
    artifact = renderer.render(RenderInput(config, templates, prepared.checksum_key))
    return Delivery(
        config,
        config.environment.targets[renderer.name],
        artifact.content,
        prepared.store,
        prepared.fingerprint_key,
    )


def apply_plans(
    outcomes: Sequence[Outcome],
    target: DeployTarget,
    *,
    parallel: int,
    done: Callable[[Outcome], None] | None = None,
    allow_older_store: bool = False,
) -> list[Outcome]:
    """Apply every planned environment concurrently; a failure stays with its environment.

    A plan whose store looks put back from before a rotation is refused unless
    `allow_older_store`: delivering it would bring back keys that were replaced.
    """

    def one(outcome: Outcome) -> Outcome:
        plan = outcome.plan
        if plan is not None and plan.store_replay and not allow_older_store:
            outcome.error = DeployError(
                f"{plan.store_replay}; nothing was delivered",
                hint="restore the newest store file (git log), or pass --allow-older-store "
                "to deliver this one on purpose",
            )
        if outcome.plan is not None and outcome.error is None:
            try:
                _store_pending(outcome)
                outcome.result = target.apply(outcome.plan)
            except SecconfError as exc:
                outcome.error = exc
        if done is not None:
            done(outcome)
        return outcome

    return _run(lambda outcome: functools.partial(one, outcome), outcomes, parallel)


def _store_pending(outcome: Outcome) -> None:
    """Store the keys generated for this environment's plan, or stop it when another
    run stored different ones first (the plan shown would not be what is applied)."""
    from secconf.operations.prepare import commit

    prepared = outcome.prepared
    if prepared is None or not prepared.pending:
        return
    _, changed = commit(prepared)
    if changed:
        raise DeployError(
            f"another run stored the keys of {outcome.environment} first; nothing applied",
            hint="run apply again: it plans with the stored keys",
        )


def _run(
    first: Callable[[T], Outcome | Callable[[], Outcome]], items: Sequence[T], parallel: int
) -> list[Outcome]:
    """The outcome of every item, in order. `first(item)` runs in the calling thread, one
    item after the other: an Outcome it returns is final; the work it returns instead runs
    in a pool of `parallel` threads (in this thread, at once, when `parallel` is 1), so an
    item's work starts only once `first` is done with it."""
    if parallel <= 1 or len(items) <= 1:
        return [r if isinstance(r := first(item), Outcome) else r() for item in items]
    with ThreadPoolExecutor(max_workers=min(parallel, len(items))) as pool:
        pending = [r if isinstance(r := first(item), Outcome) else pool.submit(r) for item in items]
        return [p if isinstance(p, Outcome) else p.result() for p in pending]
