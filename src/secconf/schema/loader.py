"""Load `schema/*.yaml` (one file per section) into the typed Schema."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_core import ValidationError

from secconf.core.errors import InputError
from secconf.core.paths import shown_path
from secconf.core.yamlio import Document, load_document, parse_document
from secconf.schema.models import Schema, Section, Variable


def load_schema(
    directory: Path, *, root: Path | None = None, texts: Mapping[str, str] | None = None
) -> Schema:
    """Read every `*.yaml` file of `directory`, in name order, as one section each.
    `texts`: file name -> the text it would hold (a file about to be written)."""
    texts = texts or {}
    found = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
    files = sorted({*found, *(directory / name for name in texts)})
    if not files:
        raise InputError(
            "no schema files (*.yaml) found",
            file=str(directory),
            hint="add one YAML file per section, or start from the bundled one with `secconf init`",
        )
    sections: list[Section] = []
    seen: dict[str, str] = {}
    where: dict[str, tuple[str, int | None]] = {}
    for path in files:
        shown = shown_path(root, path)
        text = texts.get(path.name)
        doc = load_document(path, display=shown) if text is None else parse_document(text, shown)
        section = _section(doc)
        for i, var in enumerate(section.variables):
            if var.name in seen:
                raise InputError(
                    f"variable {var.name} is already defined in {seen[var.name]}",
                    file=shown,
                    line=doc.line("variables", i, "name"),
                    hint="each variable is defined once across schema/",
                )
            _check_shell_name(var.name, shown, doc.line("variables", i, "name"))
            seen[var.name] = shown
            where[var.name] = (shown, doc.line("variables", i, "generator"))
        sections.append(section)
    schema = Schema(sections=tuple(sections), files=tuple(shown_path(root, p) for p in files))
    check_generators(schema, where)
    return schema


def _check_shell_name(name: str, shown: str, line: int | None) -> None:
    from secconf.schema.shellnames import bash_refusal

    reason = bash_refusal(name)
    if reason is not None:
        raise InputError(
            f"variable {name} cannot be delivered in a .env file: {reason}",
            file=shown,
            line=line,
            hint="rename the variable (the application reads it under the new name)",
        )


def _section(doc: Document) -> Section:
    try:
        section = Section.validate(doc.data)
    except ValidationError as exc:
        raise doc.validation_error(
            exc, label="schema: ", hint="see the schema format in the README"
        ) from None
    variables = tuple(v.replace(section=section.name) for v in section.variables)
    for i, var in enumerate(variables):
        _check_default(var, doc, i)
    return section.replace(variables=variables)


def _check_default(var: Variable, doc: Document, index: int) -> None:
    line = doc.line("variables", index, "default") or doc.line("variables", index, "name")
    if var.auto_generated and var.default is not None:
        raise InputError(
            f"{var.name}: a variable has a default or is auto_generated, not both",
            file=doc.path,
            line=line,
        )
    if var.default is None:
        return
    expected: dict[str, type[Any]] = {"string": str, "boolean": bool, "integer": int}
    kind = expected[var.type]
    if type(var.default) is not kind:
        raise InputError(
            f"{var.name}: default {'(sensitive)' if var.sensitive else repr(var.default)} "
            f"is not a {var.type}",
            file=doc.path,
            line=line,
            hint="quote string defaults; write booleans as true/false",
        )


def check_generators(
    schema: Schema, where: dict[str, tuple[str, int | None]] | None = None
) -> None:
    """Generation groups must be complete and consistent (a VAPID pair has both halves)."""
    where = where or {}
    variables = schema.variables
    for group, members in schema.groups().items():
        file, line = where.get(members[-1].name, (None, None))
        kinds = sorted({m.generator.kind for m in members if m.generator})
        parts = sorted(str(m.generator.part) for m in members if m.generator)
        problem = None
        if len(kinds) != 1:
            problem = f"generator group {group} mixes kinds {kinds}"
        elif kinds[0] == "vapid" and parts != ["private_key", "public_key"]:
            problem = (
                f"generator group {group}: a vapid group needs one private_key and one "
                f"public_key variable, found parts {parts}"
            )
        elif kinds[0] != "vapid" and len(members) != 1:
            problem = f"generator group {group}: a {kinds[0]} generator makes one value"
        for member in members:
            gen = member.generator
            if gen and gen.algorithm_variable and gen.algorithm_variable not in variables:
                problem = (
                    f"{member.name}: algorithm_variable {gen.algorithm_variable} "
                    "is not in the schema"
                )
        if problem:
            raise InputError(
                problem,
                file=file,
                line=line,
                hint="variables generated together share a `group`; a vapid group has a "
                "private_key part and a public_key part",
            )
