"""`secconf codegen`: code for the consuming application, generated from the schema."""

from __future__ import annotations

from collections.abc import Callable

from secconf.operations.project import Project
from secconf.schema.models import Schema


def _python(schema: Schema) -> str:
    from secconf.schema.codegen import generate_python

    return generate_python(schema)


# language -> generator; each is the module's text from the schema alone.
LANGUAGES: dict[str, Callable[[Schema], str]] = {"python": _python}


def codegen(project: Project, *, lang: str) -> str:
    """The settings module for `lang`, from the repo's schema (no environment, no value)."""
    return LANGUAGES[lang](project.schema)
