"""Deploy: plan, apply and check the delivery of environments to live systems.

plan = what is live compared with what render wrote for the environment, key by key,
by fingerprint; apply = exactly the writes the plan shows, with optimistic concurrency;
check = plan as a drift detector. Each target is one module here whose class a render
target names as its `deploy` adapter (`secconf.render.registry`); the operations
(`secconf.operations.deploy`) render, plan and apply environments concurrently.
"""

from __future__ import annotations

from secconf.deploy.base import (
    ApplyResult,
    Delivery,
    DeployOptions,
    DeployTarget,
    KeyChange,
    Plan,
    PlanState,
)

__all__ = [
    "ApplyResult",
    "Delivery",
    "DeployOptions",
    "DeployTarget",
    "KeyChange",
    "Plan",
    "PlanState",
]
