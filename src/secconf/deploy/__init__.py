"""Deploy: plan, apply and check the delivery of environments to live systems.

plan = what is live compared with what secconf would deliver, key by key, by
fingerprint; apply = exactly the writes the plan shows, with optimistic concurrency;
check = plan as a drift detector. Environments run concurrently in a bounded pool;
one failing environment never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from secconf.core.errors import SecconfError
from secconf.deploy.base import ApplyResult, DeployTarget, KeyChange, Plan
from secconf.environment.loader import Environment
from secconf.operations.project import Project


@dataclass
class Outcome:
    """One environment's plan (and apply result), or the error that stopped it."""

    environment: str
    plan: Plan | None = None
    result: ApplyResult | None = None
    error: SecconfError | None = None


def make_target(name: str, **options: Any) -> DeployTarget:
    """The deploy target called `name` (vault or kubernetes)."""
    if name == "vault":
        from secconf.deploy.vault import VaultDeploy

        return VaultDeploy(**options)
    if name == "kubernetes":
        from secconf.deploy.kubernetes import KubernetesDeploy

        return KubernetesDeploy(**options)
    raise ValueError(f"unknown deploy target {name}")


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
) -> list[Outcome]:
    """Prepare and plan every environment concurrently; errors stay with their environment."""
    from secconf.operations.prepare import prepare

    # The schema is loaded once, before the threads share it.
    _ = project.schema

    def one(environment: Environment) -> Outcome:
        try:
            prepared = prepare(
                project,
                environment,
                notify=notify,
                generate=generate,
            )
            outcome = Outcome(environment.name, plan=target.plan(prepared, prune=prune))
        except SecconfError as exc:
            outcome = Outcome(environment.name, error=exc)
        if done is not None:
            done(outcome)
        return outcome

    return _run(one, environments, parallel)


def apply_plans(
    outcomes: Sequence[Outcome],
    target: DeployTarget,
    *,
    parallel: int,
    done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Apply every planned environment concurrently; a failure stays with its environment."""

    def one(outcome: Outcome) -> Outcome:
        if outcome.plan is not None and outcome.error is None:
            try:
                outcome.result = target.apply(outcome.plan)
            except SecconfError as exc:
                outcome.error = exc
        if done is not None:
            done(outcome)
        return outcome

    return _run(one, outcomes, parallel)


def _run(work: Callable[[Any], Outcome], items: Sequence[Any], parallel: int) -> list[Outcome]:
    if parallel <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(parallel, len(items))) as pool:
        return list(pool.map(work, items))


__all__ = [
    "ApplyResult",
    "DeployTarget",
    "KeyChange",
    "Outcome",
    "Plan",
    "apply_plans",
    "make_target",
    "plan_environments",
]
