"""Validation: pure functions from a resolved Config to Findings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from secconf.environment.resolve import Config
from secconf.validate import application, rules
from secconf.validate.context import RULES, Check, Rule
from secconf.validate.findings import Finding, Severity, sort_key

if TYPE_CHECKING:
    from secconf.store.base import StoreReplay

# Order matters in one way: type errors first, then the specific rules, then the
# generic constraints, which stay quiet on a variable a specific rule already flagged.
CHECKS: tuple[Callable[[Check], None], ...] = (
    rules.unknown_variables,
    rules.types,
    rules.not_generatable,
    application.jwt_algorithm,
    application.jwt_key_length,
    application.jwt_key_stable,
    application.vapid_keys,
    application.vapid_subject,
    application.turnstile_keys,
    application.turnstile_test_keys,
    application.default_role,
    application.registration_captcha,
    application.admin_contact,
    application.token_expiry,
    rules.constraints,
    rules.plaintext_secrets,
    rules.generated_not_stored,
    rules.from_env_unset,
    rules.stored_value_missing,
    rules.shared_master_key,
    rules.store_replayed,
    rules.recipients_out_of_sync,
)


def validate(
    config: Config,
    *,
    shares_key_with: tuple[str, ...] = (),
    replay: StoreReplay | None = None,
    recipients_drift: str | None = None,
) -> list[Finding]:
    """Every finding for one resolved environment, in file and line order.

    `shares_key_with`: the non-production environments that read the same master key
    file (`secconf.operations.validate.shared_key_files`), for the rule that production
    keeps its own.
    `replay`: what reading the store found if it went back (`StoreReplay`).
    `recipients_drift`: how an age store's header differs from its configured recipients.
    """
    check = Check(
        config, shares_key_with=shares_key_with, replay=replay, recipients_drift=recipients_drift
    )
    for run in CHECKS:
        run(check)
    return sorted(check.findings, key=sort_key)


__all__ = ["CHECKS", "RULES", "Finding", "Rule", "Severity", "validate"]
