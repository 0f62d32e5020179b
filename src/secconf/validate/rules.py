"""Rules that hold for any schema: names, types, constraints, where secrets come from."""

from __future__ import annotations

from secconf.environment.resolve import Resolved
from secconf.schema.models import Variable
from secconf.schema.patterns import fullmatch as pattern_matches
from secconf.schema.values import parse_value, type_error
from secconf.validate.context import Check
from secconf.validate.formats import FORMAT_CHECKS


def unknown_variables(check: Check) -> None:
    """SC001: every name in an environment file must be a schema variable."""
    if not check.config.unknown:
        return
    import difflib

    known = list(check.config.schema.variables)
    for unknown in check.config.unknown:
        close = difflib.get_close_matches(unknown.name, known, n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]}?"
            if close
            else "add it to a file in schema/ or remove it from the environment"
        )
        check.add(
            "SC001",
            "error",
            unknown.name,
            f"{unknown.name} is not a variable of the schema",
            hint,
            at=unknown.at,
        )


def types(check: Check) -> None:
    """SC002 (type): a value must be what the application can read for its type."""
    for name, resolved in check.config.values.items():
        text = check.text(name)
        if text is None:
            continue
        problem = type_error(resolved.variable, text)
        if problem:
            shown = _shown(resolved, text)
            check.add("SC002", "error", name, f"{name}{shown} {problem}")


def constraints(check: Check) -> None:
    """SC002 (constraints): choices, lengths, bounds, pattern and format from the schema."""
    for name, resolved in check.config.values.items():
        text = check.text(name)
        if text is None or check.has_error(name):
            continue
        variable = resolved.variable
        empty_default = text == "" and variable.default == ""
        if empty_default:
            continue  # "(empty)" is the documented default, not a value to check
        problem = _constraint_problem(variable, text)
        if problem:
            check.add("SC002", "error", name, f"{name}{_shown(resolved, text)} {problem}")


def _constraint_problem(variable: Variable, text: str) -> str | None:
    rules = variable.constraints
    value = parse_value(variable, text)
    if rules.choices is not None and text not in rules.choices:
        return f"is not one of {', '.join(rules.choices)}"
    if rules.min_length is not None and len(text) < rules.min_length:
        return f"is shorter than {rules.min_length} characters"
    if rules.max_length is not None and len(text) > rules.max_length:
        return f"is longer than {rules.max_length} characters"
    if isinstance(value, int) and not isinstance(value, bool):
        if rules.minimum is not None and value < rules.minimum:
            return f"is less than {rules.minimum}"
        if rules.maximum is not None and value > rules.maximum:
            return f"is more than {rules.maximum}"
    if rules.pattern is not None and not pattern_matches(rules.pattern, text):
        return f"does not match the pattern {rules.pattern}"
    if rules.format is not None:
        return FORMAT_CHECKS[rules.format](text)
    return None


def _shown(resolved: Resolved, text: str) -> str:
    """` value 'value'` for a non-sensitive value written in a file; nothing for a
    sensitive one, nor for one read from the process environment (a pull request can
    point `from_env` at any variable CI has), nor for one that is also a secret's or a
    credential's value."""
    from secconf.core.redact import is_known

    hidden = resolved.variable.sensitive or resolved.provenance.kind == "from_env"
    if hidden or len(text) > 80 or is_known(text):
        return ""
    return f" value {text!r}"


def not_generatable(check: Check) -> None:
    """SC016: `generate: true` needs a generator in the schema."""
    from secconf.environment.models import Generate

    for name, source in check.config.environment.values.items():
        variable = check.config.schema.variables.get(name)
        if isinstance(source, Generate) and variable is not None and variable.generator is None:
            check.add(
                "SC016",
                "error",
                name,
                f"{name} has `generate: true` but the schema has no generator for it",
                "give it a `generator:` in schema/, or a literal or from_env value",
                at=source.at,
            )


def generated_not_stored(check: Check) -> None:
    """SC017: a generated key that is not in the store yet."""
    env = check.config.environment.name
    for name, resolved in check.config.values.items():
        if (
            resolved.provenance.kind == "generated"
            and resolved.value is None
            and resolved.variable.generator is not None
        ):
            check.add(
                "SC017",
                "warning" if check.production else "info",
                name,
                f"{name} is to be generated but is not in the store yet",
                f"run `secconf keys ensure --env {env}`",
            )


def from_env_unset(check: Check) -> None:
    """SC018: a `from_env` value whose variable this process does not have."""
    for name, resolved in check.config.values.items():
        provenance = resolved.provenance
        if provenance.kind == "from_env" and resolved.value is None:
            check.add(
                "SC018",
                "info",
                name,
                f"{name} comes from ${provenance.env_var} at deploy time; it is not set here, "
                "so its value was not checked",
                f"export {provenance.env_var} to check it",
            )


def stored_value_missing(check: Check) -> None:
    """SC019: a `from_store` value (put there by `secconf import`) that is not stored."""
    env = check.config.environment.name
    for name, resolved in check.config.values.items():
        if resolved.provenance.kind == "stored" and resolved.value is None:
            check.add(
                "SC019",
                "error",
                name,
                f"{name} is to come from the secret store but is not there",
                f"put it there with `secconf import FILE.env --env {env}`, or use "
                "from_env or a generator instead",
            )


def shared_master_key(check: Check) -> None:
    """SC020: whoever can decrypt a development store can decrypt production's."""
    if not check.production or not check.shares_key_with:
        return
    from secconf.store.backends.file import file_settings

    settings = file_settings(check.config.environment)
    others = ", ".join(check.shares_key_with)
    check.add(
        "SC020",
        "warning",
        None,
        f"production shares its master key file {settings.key_file} with {others}: anyone "
        "who can decrypt those stores can decrypt this one",
        "give production its own `store: file: key_file:` (created on purpose with "
        "`secconf store init`), or its own SECCONF_MASTER_KEY_<ENV> in CI",
    )


def store_replayed(check: Check) -> None:
    """SC021: the store's generation is lower than one seen before: the whole file may have
    been put back from before a rotation, bringing back keys that were replaced."""
    from secconf.environment.models import Location

    replay = check.replay
    if replay is None:
        return
    check.add(
        "SC021",
        "warning",
        None,
        f"the store {replay.location} is at generation {replay.generation}, lower than "
        f"generation {replay.highest} seen {replay.seen_in}: it may be a copy put back from "
        "before a rotation (a replayed store)",
        "check `git log` of the store file and restore the newest; if going back was on "
        "purpose, the next `secconf keys` write moves the store past it",
        at=Location(replay.location, None),
    )


def plaintext_secrets(check: Check) -> None:
    """SC014: sensitive values come from the store or CI, never from a file in git."""
    for name, resolved in check.config.values.items():
        if (
            resolved.variable.sensitive
            and resolved.provenance.kind == "literal"
            and check.text(name) != ""
        ):
            check.add(
                "SC014",
                check.strict(),
                name,
                f"{name} is sensitive but written as plaintext in an environment file",
                "use `{generate: true}` if secconf can generate it, `{from_env: NAME}` for a "
                "value CI injects, or `secconf import` to move it into the store",
            )


def recipients_out_of_sync(check: Check) -> None:
    """SC022: an age store sealed to other recipients than its settings and recipients.yaml
    name: someone removed can still decrypt it, or someone added cannot yet."""
    drift = check.recipients_drift
    if drift is None:
        return
    env = check.config.environment.name
    check.add(
        "SC022",
        "error",
        None,
        f"the store of {env} is not sealed to its configured recipients: {drift}",
        f"run `secconf store recipients sync --env {env}` (a recipient of the store must) and "
        "commit the store",
    )
