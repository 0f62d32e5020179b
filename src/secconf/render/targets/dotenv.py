"""The `.env` target: one `NAME=value` line per delivered variable."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, ClassVar

from secconf.core.errors import RenderError
from secconf.environment.loader import Environment
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.render._dotenv_quote import dotenv_line
from secconf.render.base import Artifact, RenderInput, delivered_values, target_path
from secconf.render.registry import Destination, RenderTarget
from secconf.schema.models import Variable

NAME = "dotenv"


class DotenvSettings(SettingsModel):
    """Where `secconf render --target dotenv` writes."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "output"}

    path: str = "out/{env}.env"


def environment_context(data: RenderInput) -> dict[str, Any]:
    """What every .env template is told about the environment it renders."""
    environment = data.config.environment
    return {
        "environment": {
            "name": environment.name,
            "chain": list(environment.chain),
            "production": environment.production,
        },
        "schema_digest": data.config.schema.digest(),
    }


def _why_unset(variable: Variable) -> str:
    if variable.auto_generated:
        return "the application generates it at start-up"
    return "the application's default applies"


def render_dotenv(data: RenderInput) -> Artifact:
    """One `NAME=value` line per delivered variable, in schema order, grouped by section."""
    config = data.config
    delivered = dict((v.name, text) for v, text in delivered_values(config))
    sections = []
    for section in config.schema.sections:
        items: list[dict[str, str | None]] = []
        for variable in section.variables:
            if variable.name in delivered:
                line = dotenv_line(variable.name, delivered[variable.name])
                items.append({"name": variable.name, "line": line})
            else:
                items.append({"name": variable.name, "line": None, "why": _why_unset(variable)})
        sections.append({"name": section.name, "variables": items})
    text = data.render("dotenv.j2", {**environment_context(data), "sections": sections})
    check_dotenv(text, delivered, "dotenv.j2")
    settings = settings_as(config.environment.targets[NAME], DotenvSettings)
    path = target_path(settings.path, config)
    return Artifact(NAME, config.environment.name, text.encode("utf-8"), path)


def check_dotenv(text: str, expected: dict[str, str], template: str) -> None:
    """Parse the output back with python-dotenv: exactly the intended names and values,
    one line each. Messages name only expected variables, never what a value became.

    Values are compared as python-dotenv reads them before interpolation: values with
    `${` are refused before rendering, so interpolation cannot change an accepted one.
    """
    from dotenv.parser import parse_stream

    from secconf.render._dotenv_read import read_back

    where = f"templates/{template}"
    if "\r" in text or text.startswith("\ufeff"):
        raise RenderError("the .env output has a CR or a BOM", file=where)
    read = read_back(text)  # line by line, each line once per process, where that is exact
    if read is None:
        bindings = list(parse_stream(io.StringIO(text)))
        if any(b.error for b in bindings):
            raise RenderError("the rendered .env has a line python-dotenv cannot parse", file=where)
        read = [(b.key, b.value) for b in bindings if b.key is not None]
    keys = [key for key, _ in read]
    unexpected = [k for k in keys if k not in expected]
    missing = sorted(set(expected) - set(keys))
    repeated = sorted({k for k in keys if k in expected and keys.count(k) > 1})
    if unexpected or missing or repeated:
        raise RenderError(
            "the rendered .env does not hold each intended variable exactly once "
            f"({len(unexpected)} unexpected; missing: {', '.join(missing) or 'none'}; "
            f"repeated: {', '.join(repeated) or 'none'})",
            file=where,
            hint="write each `item.line` as it is, once",
        )
    wrong = sorted(key for key, value in read if value != expected[key])
    if wrong:
        raise RenderError(
            f"the rendered .env reads back different values for {', '.join(wrong)}",
            file=where,
            hint="write each `item.line` as it is, on a line of its own",
        )


def _destination(environment: Environment, name: str) -> Destination:
    path = target_path_of(environment)
    return Destination({"target": NAME, "path": path, "key": name}, f"dotenv {path}")


def target_path_of(environment: Environment) -> str:
    """The .env file an environment renders to."""
    from secconf.core.paths import fill

    settings = settings_as(environment.targets[NAME], DotenvSettings)
    return fill(settings.path, env=environment.name)


TARGET = RenderTarget(
    name=NAME,
    summary="a .env file (python-dotenv, Docker Compose and bash read it alike)",
    settings=DotenvSettings,
    render=render_dotenv,
    destination=_destination,
    order=10,
)
