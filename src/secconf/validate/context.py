"""The state one validation pass shares between its rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from secconf.core.secret import reveal
from secconf.environment.models import Location
from secconf.environment.resolve import Config, Resolved
from secconf.schema.values import parse_value
from secconf.validate.findings import Finding, Severity

if TYPE_CHECKING:
    from secconf.store.base import StoreReplay


class Rule(NamedTuple):
    """A rule's stable code, short name and one-line summary (for SARIF and --list-rules)."""

    code: str
    name: str
    summary: str


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule("SC001", "unknown-variable", "A name in an environment file is not in the schema."),
        Rule("SC002", "invalid-value", "A value has the wrong type or breaks a constraint."),
        Rule("SC003", "jwt-algorithm", "JWT_ALGORITHM must be HS256, HS384 or HS512."),
        Rule("SC004", "jwt-key-length", "JWT_SECRET_KEY is shorter than its algorithm needs."),
        Rule("SC005", "jwt-key-unstable", "JWT_SECRET_KEY is left to the start-up default."),
        Rule("SC006", "vapid-keys", "The VAPID key pair is incomplete, malformed or mismatched."),
        Rule("SC007", "vapid-subject", "VAPID_SUBJECT is not a real mailto: or https: contact."),
        Rule("SC008", "turnstile-keys", "Turnstile is enabled without its site and secret keys."),
        Rule(
            "SC009", "turnstile-test-key", "A Turnstile testing or placeholder key in production."
        ),
        Rule("SC010", "turnstile-flag-unused", "A TURNSTILE_REQUIRE_ON_* flag has no effect."),
        Rule("SC011", "privileged-default-role", "New users would get a privileged role."),
        Rule("SC012", "registration-without-captcha", "Open registration without a CAPTCHA."),
        Rule("SC013", "admin-contact", "ADMIN_CONTACT_EMAIL / ADMIN_CONTACT_URL is not valid."),
        Rule("SC014", "plaintext-secret", "A sensitive value is written in an environment file."),
        Rule("SC015", "token-expiry-order", "Access tokens outlive refresh tokens."),
        Rule("SC016", "not-generatable", "`generate: true` on a variable with no generator."),
        Rule("SC017", "generated-not-stored", "A generated key has not been generated yet."),
        Rule("SC018", "from-env-unset", "A from_env variable is not set in this process."),
        Rule("SC019", "stored-value-missing", "A from_store value is not in the store."),
        Rule("SC020", "shared-master-key", "Production shares its master key file."),
        Rule("SC021", "store-replayed", "The store file is older than one seen before."),
        Rule("SC022", "recipients-out-of-sync", "An age store is not sealed to its recipients."),
    )
}


@dataclass
class Check:
    """One environment under validation: its values, and the findings so far."""

    config: Config
    findings: list[Finding] = field(default_factory=list)
    # Non-production environments whose file store reads the same master key file.
    shares_key_with: tuple[str, ...] = ()
    # Set when the store's generation is lower than one seen before (a replayed file).
    replay: StoreReplay | None = None
    # How an age store's header differs from its configured recipients (None: it matches).
    recipients_drift: str | None = None

    @property
    def production(self) -> bool:
        """True when the strict production rules apply."""
        return self.config.environment.production

    def has(self, name: str) -> bool:
        """True when the schema defines `name` (rules for absent variables stay quiet)."""
        return name in self.config.values

    def resolved(self, name: str) -> Resolved:
        """The resolved value of a schema variable."""
        return self.config.values[name]

    def text(self, name: str) -> str | None:
        """The plain text of `name`, or None when unset or unknown."""
        value = self.config.value(name)
        # The rules inspect values here (and only here); findings never quote a secret.
        return None if value is None else reveal(value)

    def value(self, name: str) -> str | bool | int | None:
        """`name` as the application reads it, or None when unset or unreadable."""
        text = self.text(name)
        if text is None:
            return None
        return parse_value(self.resolved(name).variable, text)

    def declared(self, name: str) -> bool:
        """True when `name` has a non-empty value or one that arrives later (CI, store)."""
        if not self.has(name):
            return False
        resolved = self.resolved(name)
        if (
            resolved.provenance.kind in ("from_env", "generated", "stored")
            and resolved.value is None
        ):
            return True
        return bool(self.text(name))

    def stable(self, name: str) -> bool:
        """True when the environment gives `name` a lasting value (literal, from_env, generate)."""
        return self.has(name) and self.resolved(name).provenance.kind != "default"

    def has_error(self, name: str) -> bool:
        """True when an error-level finding already names `name`."""
        return any(f.variable == name and f.severity == "error" for f in self.findings)

    def location(self, name: str | None) -> Location:
        """Where `name`'s value was written, else the environment file itself."""
        if name is not None and self.has(name):
            at = self.resolved(name).provenance.at
            if at is not None:
                return at
        return Location(self.config.environment.file, None)

    def add(
        self,
        code: str,
        severity: Severity,
        variable: str | None,
        message: str,
        hint: str | None = None,
        *,
        at: Location | None = None,
    ) -> None:
        """Record a finding, located at the variable's source unless `at` is given."""
        where = at or self.location(variable)
        self.findings.append(
            Finding(
                code=code,
                severity=severity,
                environment=self.config.environment.name,
                variable=variable,
                message=message,
                file=where.file,
                line=where.line,
                hint=hint,
            )
        )

    def strict(self) -> Severity:
        """`error` in production, `warning` elsewhere."""
        return "error" if self.production else "warning"
