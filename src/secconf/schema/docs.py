"""Markdown documentation generated from the schema, in the application's own table form."""

from __future__ import annotations

from secconf.schema.models import Schema, Variable

HIDDEN_DEFAULT = "(hidden: sensitive)"


def default_cell(variable: Variable) -> str:
    """The Default column: `(auto-generated)`, `(empty)`, the default as read, or a
    placeholder for a sensitive variable's default (a value like any other)."""
    if variable.auto_generated:
        return "(auto-generated)"
    text = variable.default_text()
    if text is None:
        return "(none)"
    if text == "":
        return "(empty)"
    return HIDDEN_DEFAULT if variable.sensitive else text


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(schema: Schema, *, title: str = "Configuration reference") -> str:
    """One section per schema section: its description, a Variable/Default/Sensitive/
    Description table, then its warnings."""
    out = [f"# {title}", ""]
    for section in schema.sections:
        out += [f"## {section.name}", ""]
        if section.description:
            out += [_cell(section.description), ""]
        out += ["| Variable | Default | Sensitive | Description |", "|---|---|---|---|"]
        for var in section.variables:
            sensitive = "Yes" if var.sensitive else "No"
            out.append(
                f"| {var.name} | {_cell(default_cell(var))} | {sensitive} | "
                f"{_cell(var.description)} |"
            )
        out.append("")
        for warning in section.warnings:
            out += [f"> **Warning:** {_cell(warning)}", ""]
    return "\n".join(out)
