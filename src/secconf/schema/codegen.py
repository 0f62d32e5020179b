"""A pydantic-settings module generated from the schema, for the consuming application.

The schema is hostile input (it can arrive in a pull request): every text it gives
(descriptions, defaults, choices, patterns) reaches the generated code only through
`repr()`, which always gives one Python literal, never code; names are checked
identifiers. Nothing of the schema goes into a comment or a docstring.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from secconf.core.errors import InputError
from secconf.schema.models import Schema, Variable

CLASS_NAME = "Settings"
_PYTHON_TYPES = {"string": "str", "boolean": "bool", "integer": "int"}
# Names a field may not take: BaseSettings' own attributes, and pydantic's namespaces.
_RESERVED = frozenset(
    {"copy", "dict", "json", "schema", "construct", "validate", "fields"}
    | {"settings_customise_sources"}
)

_MATCHING_HELPER = '''

def _matching(pattern: str) -> Callable[[object], object]:
    """A check of a secret's text against its pattern, by pydantic's own regex engine."""
    adapter: TypeAdapter[str] = TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])

    def check(value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        adapter.validate_python(text)
        return value

    return check
'''


@dataclass
class _Imports:
    typing: set[str] = field(default_factory=set)
    pydantic: set[str] = field(default_factory=lambda: {"Field"})
    helper: bool = False

    def lines(self) -> list[str]:
        out = []
        if self.helper:
            out.append("from collections.abc import Callable")
        if self.typing:
            out.append(f"from typing import {', '.join(sorted(self.typing))}")
        out += [
            "",
            f"from pydantic import {', '.join(sorted(self.pydantic))}",
            "from pydantic_settings import BaseSettings, SettingsConfigDict",
        ]
        return out


def field_name(variable: Variable) -> str:
    """The attribute of the settings class for a variable: its name in lower case (which
    pydantic-settings matches to the environment variable in any case), or, when that
    is not a usable attribute, the same with a trailing `_` and the name as alias."""
    name = variable.name.lower()
    if name.startswith("_"):
        name = "v" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _RESERVED:
        name += "_"
    if name.startswith("model_"):
        name = "v_" + name
    return name


def _fullmatch(pattern: str) -> str:
    # The schema's patterns match the whole value; pydantic's search anywhere.
    return rf"\A(?:{pattern})\z"


def _string_type(variable: Variable, imports: _Imports) -> str:
    choices = variable.constraints.choices
    if variable.sensitive:
        imports.pydantic.add("SecretStr")
        if variable.constraints.pattern is None:
            return "SecretStr"
        imports.helper = True
        imports.typing.add("Annotated")
        imports.pydantic.update({"BeforeValidator", "StringConstraints", "TypeAdapter"})
        check = f"_matching({_fullmatch(variable.constraints.pattern)!r})"
        return f"Annotated[SecretStr, BeforeValidator({check})]"
    if choices is None:
        return "str"
    imports.typing.add("Literal")
    options = list(choices)
    default = variable.default
    if isinstance(default, str) and default not in options:
        options.append(default)  # the application's own default is always accepted
    return f"Literal[{', '.join(repr(c) for c in options)}]"


def _secret_inner(variable: Variable, imports: _Imports) -> str:
    """A sensitive integer's or boolean's type inside Secret[...], with its bounds."""
    c = variable.constraints
    bounds = [f"ge={c.minimum!r}"] if c.minimum is not None else []
    bounds += [f"le={c.maximum!r}"] if c.maximum is not None else []
    python = _PYTHON_TYPES[variable.type]
    if variable.type != "integer" or not bounds:
        return python
    imports.typing.add("Annotated")
    return f"Annotated[{python}, Field({', '.join(bounds)})]"


def _type(variable: Variable, imports: _Imports) -> str:
    if variable.type == "string":
        text = _string_type(variable, imports)
    elif variable.sensitive:
        imports.pydantic.add("Secret")
        text = f"Secret[{_secret_inner(variable, imports)}]"
    else:
        text = _PYTHON_TYPES[variable.type]
    if variable.default is None and variable.auto_generated:
        text += " | None"  # the application makes one at start-up when it is not set
    return text


def _default(variable: Variable) -> str | None:
    """The `default=` argument, or None for a required variable."""
    default = variable.default
    if default is None:
        return "None" if variable.auto_generated else None
    if variable.sensitive:
        if default != "":
            return None  # a sensitive default is a value like any other: never written out
        return "SecretStr('')"
    return repr(default)


def _arguments(variable: Variable, alias: bool) -> list[str]:
    c = variable.constraints
    args = []
    default = _default(variable)
    if default is not None:
        args.append(f"default={default}")
    if alias:
        args.append(f"validation_alias={variable.name!r}")
    if variable.type == "string":
        args += [f"min_length={c.min_length!r}"] if c.min_length is not None else []
        args += [f"max_length={c.max_length!r}"] if c.max_length is not None else []
        if c.pattern is not None and not variable.sensitive:
            args.append(f"pattern={_fullmatch(c.pattern)!r}")
    if variable.type == "integer" and not variable.sensitive:
        args += [f"ge={c.minimum!r}"] if c.minimum is not None else []
        args += [f"le={c.maximum!r}"] if c.maximum is not None else []
    args.append(f"description={variable.description!r}")
    return args


def _field(variable: Variable, imports: _Imports) -> list[str]:
    name = field_name(variable)
    head = f"    {name}: {_type(variable, imports)} = Field("
    args = _arguments(variable, alias=name != variable.name.lower())
    return [head, *(f"        {a}," for a in args), "    )"]


def _check_names(schema: Schema) -> None:
    seen: dict[str, str] = {}
    for variable in schema.variables.values():
        name = field_name(variable)
        other = seen.get(name) or seen.get(variable.name.lower())
        if other is not None:
            raise InputError(
                f"{other} and {variable.name} differ only in case: pydantic-settings reads "
                "environment variable names in any case",
                hint="rename one of them in schema/",
            )
        seen[name] = seen[variable.name.lower()] = variable.name


def generate_python(schema: Schema) -> str:
    """The module's text: one BaseSettings class, a field per variable in schema order."""
    _check_names(schema)
    imports = _Imports()
    body: list[str] = []
    for variable in schema.variables.values():
        body += ["", *_field(variable, imports)]
    head = [
        '"""Settings of the application, generated by `secconf codegen --lang python` from',
        f"the schema (digest {schema.digest()}). Do not edit: change schema/*.yaml and",
        "generate it again.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *imports.lines(),
        "",
        f'__all__ = ["{CLASS_NAME}"]',
    ]
    helper = _MATCHING_HELPER.splitlines() if imports.helper else []
    cls = [
        "",
        "",
        f"class {CLASS_NAME}(BaseSettings):",
        '    """Every variable of the schema, read from the environment and `.env`."""',
        "",
        "    model_config = SettingsConfigDict(",
        '        env_file=".env",',
        '        env_file_encoding="utf-8",',
        '        extra="ignore",',
        "        hide_input_in_errors=True,",
        "    )",
    ]
    return "\n".join([*head, *helper, *cls, *body]) + "\n"
