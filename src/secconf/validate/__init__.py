"""Validation: pure functions from a resolved Config to Findings."""

from __future__ import annotations

from collections.abc import Callable

from secconf.environment.resolve import Config
from secconf.validate import application, rules
from secconf.validate.context import RULES, Check, Rule
from secconf.validate.findings import Finding, Severity, sort_key

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
)


def validate(config: Config) -> list[Finding]:
    """Every finding for one resolved environment, in file and line order."""
    check = Check(config)
    for run in CHECKS:
        run(check)
    return sorted(check.findings, key=sort_key)


__all__ = ["CHECKS", "RULES", "Finding", "Rule", "Severity", "validate"]
