"""`plan`, `apply` and `check`: render each environment with the repository's templates,
then compare what is live with exactly what render wrote, and write the difference.

Environments run concurrently in a bounded pool (plan: rendered in order by the calling
thread, read from the target by the pool meanwhile); one failing environment never stops
the others. Keys generated for a plan are stored right before apply writes anything
(plan and check never store them).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from secconf.core.errors import DeployError, InputError, SecconfError
from secconf.deploy.base import ApplyResult, Delivery, DeployOptions, DeployTarget, Plan
from secconf.environment.loader import Environment
from secconf.operations.project import Project

if TYPE_CHECKING:
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
) -> list[Outcome]:
    """Prepare, render and plan every environment concurrently; errors stay with their
    environment. What is planned is what `render --target` writes from the templates
    (`templates_dir`, else the repository's)."""
    from secconf.core.paths import TEMPLATES_DIR
    from secconf.operations.prepare import prepare
    from secconf.render.registry import get
    from secconf.render.templating import Templates

    # Loaded once, before the threads share them.
    _ = project.schema
    renderer = get(target.name)
    templates = Templates(templates_dir or project.root / TEMPLATES_DIR)

    def finish(outcome: Outcome) -> Outcome:
        if done is not None:
            done(outcome)
        return outcome

    def rendered(environment: Environment) -> Outcome | Callable[[], Outcome]:
        try:
            prepared = prepare(project, environment, notify=notify, generate=generate)
            delivery = _delivery(prepared, renderer, templates)
        except SecconfError as exc:
            return finish(Outcome(environment.name, error=exc))
        return functools.partial(planned, environment, prepared, delivery)

    def planned(environment: Environment, prepared: Prepared, delivery: Delivery) -> Outcome:
        try:
            plan = target.plan(delivery, prune=prune)
            return finish(Outcome(environment.name, plan=plan, prepared=prepared))
        except SecconfError as exc:
            return finish(Outcome(environment.name, error=exc))

    # Rendering is CPU work, reading the target mostly waiting: the calling thread
    # renders, in order, while the pool reads the target for those already rendered.
    return _run(rendered, environments, parallel)


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
