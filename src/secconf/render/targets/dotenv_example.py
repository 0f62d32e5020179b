"""The `.env.example` target: every variable with its description, no secret value.

One file from the schema for every environment, meant to be committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.render._dotenv_quote import dotenv_line
from secconf.render.base import Artifact, RenderInput
from secconf.render.registry import RenderTarget
from secconf.render.targets.dotenv import check_dotenv, environment_context

NAME = "dotenv-example"


class DotenvExampleSettings(SettingsModel):
    """Where `secconf render --target dotenv-example` writes."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "output"}

    path: str = ".env.example"


def render_dotenv_example(data: RenderInput) -> Artifact:
    """Every variable with its description; defaults filled in, sensitive values empty."""
    config = data.config
    expected: dict[str, str] = {}
    sections = []
    for section in config.schema.sections:
        items = []
        for variable in section.variables:
            value = "" if variable.sensitive else (variable.default_text() or "")
            expected[variable.name] = value
            items.append(
                {
                    "name": variable.name,
                    "line": dotenv_line(variable.name, value),
                    "description": variable.description,
                    "sensitive": variable.sensitive,
                }
            )
        sections.append({"name": section.name, "variables": items})
    context = {**environment_context(data), "sections": sections}
    text = data.render("dotenv-example.j2", context)
    check_dotenv(text, expected, "dotenv-example.j2")
    path = settings_as(config.environment.targets[NAME], DotenvExampleSettings).path
    # No value in it is secret: it is meant to be committed and read by everyone.
    return Artifact(
        NAME, config.environment.name, text.encode("utf-8"), path, mode=0o644
    )



TARGET = RenderTarget(
    name=NAME,
    summary=".env.example: every variable with its description and default, no secret",
    settings=DotenvExampleSettings,
    render=render_dotenv_example,
    scope="schema",
    order=40,
    holds_secrets=False,
)
