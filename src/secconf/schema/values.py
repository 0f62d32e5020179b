"""How the application reads a variable's text.

The application reads its settings with pydantic-settings, so secconf asks pydantic
itself: whatever pydantic accepts for a bool or an int (`yes`, `On`, `1`, `+24`,
`1_000`...) is accepted here, and nothing else.
"""

from __future__ import annotations

from functools import cache

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from secconf.schema.models import Variable


@cache
def _adapter(kind: str) -> SchemaValidator:
    # The core schemas pydantic builds for `bool` and `int` fields (lax mode).
    return SchemaValidator(cs.bool_schema() if kind == "boolean" else cs.int_schema())


def parse_value(variable: Variable, text: str) -> str | bool | int | None:
    """The value the application reads from `text`, or None when it would refuse it."""
    if variable.type == "string":
        return text
    try:
        value: bool | int = _adapter(variable.type).validate_python(text)
    except ValidationError:
        return None
    return value


def type_error(variable: Variable, text: str) -> str | None:
    """Why the application would refuse `text` for `variable`, or None when it reads it."""
    if parse_value(variable, text) is not None:
        return None
    if variable.type == "boolean":
        return "is not a boolean (write true or false; 1/0, yes/no, on/off are read too)"
    return "is not an integer"


def canonical_text(variable: Variable, text: str) -> str:
    """The text secconf delivers: booleans as true/false, integers in plain decimal."""
    value = parse_value(variable, text)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return text
