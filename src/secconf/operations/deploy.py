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

    def planner(tell: _Tell, finish: _Finish) -> _Plan:
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
        def plan(items: Sequence[Environment], pool: ThreadPoolExecutor | None) -> list[Outcome]:
            return _run(rendered, items, parallel, pool)

        return plan

    if processes > 1 and len(environments) > 1:
        return _planned_in_workers(environments, processes, parallel, planner, target, notify, done)
    return planner(lambda _name, message: notify(message), done)(environments, None)


# -- worker processes (secconf.operations.workers) ----------------------------------------

WORKER_BATCH = 8  # a worker plans this many at a time, and stops when most come back


def plan_processes(count: int, requested: int | None, target: DeployTarget) -> int:
    """How many processes plan `count` environments (workers.process_count); 1 where
    the target cannot plan in a forked worker (ForkableTarget)."""
    from secconf.operations.workers import process_count

    return process_count(count, requested, forkable=getattr(target, "forkable", False))


# What a worker sends for an environment of its share: the plan (without the values apply
# would write) and the notices its planning gave; or None: plan it here.
_WorkerResult = tuple[Plan, list[str]] | None
_Plan = Callable[[Sequence[Environment], ThreadPoolExecutor | None], list[Outcome]]
_Planner = Callable[[_Tell, _Finish], _Plan]


def _planned_in_workers(
    environments: Sequence[Environment],
    processes: int,
    parallel: int,
    planner: _Planner,
    target: DeployTarget,
    notify: Callable[[str], None],
    done: _Finish,
) -> list[Outcome]:
    """Plan with `processes` processes: this one plans the first share; forked workers
    (copies of this process: the project already loaded) plan the others, each with its
    own connections, and send back over a pipe only what is safe to: the plan of an
    environment in sync (its keys by fingerprint) and its notices. Once done with its
    own share, this process takes the workers' last environments that they have not
    begun (workers.Claims), so no process waits for another. The environments a worker
    finds out of sync, with keys to generate or with an error, and any it did not plan
    (it died, failed), are planned again here: what apply writes, the keys it stores and
    the errors it reports are this process's own, and no value or key leaves a process.
    So the common run (nothing changed: a CI re-apply, `check`) is planned once, on
    every CPU; a worker that finds a batch mostly out of sync (a first apply) stops, so
    at most WORKER_BATCH environments per worker are read twice."""
    from secconf.operations import workers as forked

    parts = forked.shares(environments, processes)

    def work(share: Sequence[Environment], claims: forked.Claims, sender: Any) -> None:
        run = functools.partial(_worker, planner, share, claims, target, parallel)
        forked.in_worker(run, sender)

    with forked.started(parts[1:], work) as workers:
        here = planner(lambda _name, message: notify(message), done)
        with _pool(parallel) as pool:
            outcomes = here(parts[0], pool)
            for worker in workers:
                share = worker.share
                taken: dict[str, Outcome] = {}
                while (part := worker.claims.back(forked.STEAL_BATCH)) is not None:
                    stolen = here(share[part[0] : part[1]], pool)
                    taken.update((o.environment, o) for o in stolen)
                sent = worker.result()
                results: dict[str, _WorkerResult] = dict(sent[0]) if sent else {}
                again = [e for e in share if results.get(e.name) is None and e.name not in taken]
                taken.update((o.environment, o) for o in here(again, pool))
                for environment in share:
                    result = results.get(environment.name)
                    if result is None:
                        outcomes.append(taken[environment.name])
                        continue
                    plan, said = result
                    for message in said:
                        notify(message)
                    outcome = Outcome(environment.name, plan=plan)
                    if done is not None:
                        done(outcome)
                    outcomes.append(outcome)
                for message in sent[1] if sent else []:  # the target's own (where the token goes)
                    notify(message)
    return outcomes


def _pool(parallel: int) -> Any:
    """One pool of `parallel` threads for every batch of a process (a thread keeps its
    connections: a pool per batch would connect again), or none for one at a time."""
    import contextlib

    if parallel <= 1:
        return contextlib.nullcontext(None)
    return ThreadPoolExecutor(max_workers=parallel)


def _worker(
    planner: _Planner,
    share: Sequence[Environment],
    claims: Any,
    target: DeployTarget,
    parallel: int,
) -> tuple[list[tuple[str, _WorkerResult]], list[str]]:
    """In a forked worker (workers.in_worker): plan the environments of `share` it
    claims, WORKER_BATCH at a time; the result of each (see _WorkerResult) and the
    target's notices, redacted, are sent once at the end: a pipe holds 64 KiB, and a
    worker that waited for its parent to read would not plan meanwhile. It stops after
    a batch of which most would be planned again (a first apply): the parent takes the
    rest."""
    import threading

    from secconf.core.redact import redact

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
    with _pool(parallel) as pool:
        while (part := claims.front(WORKER_BATCH)) is not None:
            before = len(results)
            plan(share[part[0] : part[1]], pool)
            if 2 * sum(r is not None for _, r in results[before:]) < part[1] - part[0]:
                break
    sent = [(n, None if r is None else (r[0], [redact(m) for m in r[1]])) for n, r in results]
    return sent, [redact(m) for m in notices]


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
    first: Callable[[T], Outcome | Callable[[], Outcome]],
    items: Sequence[T],
    parallel: int,
    pool: ThreadPoolExecutor | None = None,
) -> list[Outcome]:
    """The outcome of every item, in order. `first(item)` runs in the calling thread, one
    item after the other: an Outcome it returns is final; the work it returns instead runs
    in a pool of `parallel` threads (`pool`, else one made for these items; in this
    thread, at once, when `parallel` is 1), so an item's work starts only once `first`
    is done with it."""
    if parallel <= 1 or (pool is None and len(items) <= 1):
        return [r if isinstance(r := first(item), Outcome) else r() for item in items]
    if pool is None:
        with ThreadPoolExecutor(max_workers=min(parallel, len(items))) as own:
            return _run(first, items, parallel, own)
    pending = [r if isinstance(r := first(item), Outcome) else pool.submit(r) for item in items]
    return [p if isinstance(p, Outcome) else p.result() for p in pending]
