"""Editing an environment file's `values:` in place, keeping every comment and line
that is not touched (a YAML round trip through PyYAML would drop the comments)."""

from __future__ import annotations

from typing import Any

from secconf.core import yamlio
from secconf.core.errors import InputError


def yaml_scalar(text: str) -> str:
    """A literal value as one line of YAML that reads back as exactly this string."""
    dumped = yamlio.dump_scalar(text)
    if "\n" in dumped:
        import json

        return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML scalar
    return dumped


def set_values(text: str, updates: dict[str, str], *, file: str) -> str:
    """Return `text` with each `values.NAME` set to the YAML text given (a scalar or a
    flow mapping such as `{generate: true}`); other lines are kept byte for byte."""
    if not updates:
        return text
    root = yamlio.compose_node(text, file)
    values = _values_node(root)
    if values is None:
        block = "".join(f"  {k}: {v}\n" for k, v in updates.items())
        joiner = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{joiner}values:\n{block}"
    if isinstance(values, yamlio.MappingNode) and values.flow_style:
        if values.value:
            raise InputError(
                "values: is written as a flow mapping; secconf can only add to a block mapping",
                file=file,
                line=values.start_mark.line + 1,
                hint="write one `NAME: value` per line under values:",
            )
        block = "".join(f"\n  {k}: {v}" for k, v in updates.items())
        start = values.start_mark.index
        while start > 0 and text[start - 1] == " ":  # no trailing space after `values:`
            start -= 1
        return text[:start] + block + text[values.end_mark.index :]
    return _edit_block(text, values, updates, file)


def _values_node(root: Any) -> Any:
    if not isinstance(root, yamlio.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "values":
            if isinstance(value, yamlio.ScalarNode) and value.tag.endswith(":null"):
                return None
            return value
    return None


def _edit_block(text: str, values: Any, updates: dict[str, str], file: str) -> str:
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied from the end
    remaining = dict(updates)
    indent = " " * values.value[0][0].start_mark.column if values.value else "  "
    for key, value in values.value:
        if key.value not in remaining:
            continue
        new = remaining.pop(key.value)
        if value.start_mark.line != value.end_mark.line and not _ends_at_line_start(value):
            raise InputError(
                f"{key.value} is written over several lines; secconf will not rewrite it",
                file=file,
                line=key.start_mark.line + 1,
                hint="write it on one line, or change it by hand",
            )
        start = value.start_mark.index
        end = value.end_mark.index
        if isinstance(value, yamlio.ScalarNode) and value.tag.endswith(":null") and start == end:
            edits.append((key.end_mark.index + 1, key.end_mark.index + 1, f" {new}"))
        else:
            edits.append((start, end, new))
    if remaining:
        at = _block_end(text, values)
        lines = "".join(f"{indent}{k}: {v}\n" for k, v in remaining.items())
        if at == len(text) and not text.endswith("\n"):
            lines = "\n" + lines
        edits.append((at, at, lines))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _ends_at_line_start(node: Any) -> bool:
    # A block scalar's end mark sits at the start of the next line.
    return bool(node.end_mark.column == 0 and node.end_mark.line == node.start_mark.line + 1)


def _block_end(text: str, values: Any) -> int:
    """Where a new entry goes: right after the last line of the values mapping."""
    last = values.value[-1][1] if values.value else values
    index: int = last.end_mark.index
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1
