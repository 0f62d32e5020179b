"""Deploy: plan, apply and check the delivery of environments to live systems.

plan = what is live compared with what secconf would deliver, key by key, by
fingerprint; apply = exactly the writes the plan shows, with optimistic concurrency;
check = plan as a drift detector. Environments run concurrently in a bounded pool;
one failing environment never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secconf.core.errors import SecconfError
from secconf.deploy.base import ApplyResult, DeployTarget, KeyChange, Plan
from secconf.environment.loader import Environment
from secconf.operations.project import Project

if TYPE_CHECKING:
    from secconf.operations.prepare import Prepared
from secconf.core.errors import DeployError


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
            plan = target.plan(prepared, prune=prune)
            outcome = Outcome(environment.name, plan=plan, prepared=prepared)
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

    return _run(one, outcomes, parallel)


def _store_pending(outcome: Outcome) -> None:
    """Store the keys generated for this environment's plan, or stop it when another
    run stored different ones first (the plan shown would not be what is applied)."""
    from secconf.core.errors import DeployError
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
    plan = outcome.plan
    state = plan.state if plan is not None else None
    generation = getattr(prepared.store, "generation", None)
    if isinstance(state, dict) and "marks" in state and generation is not None:
        # Storing the keys wrote the store: the generation Vault records is the new one.
        from secconf.deploy.vault import STORE_GENERATION

        state["marks"][STORE_GENERATION] = str(generation)


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
