"""`secconf render --target dotenv --check-readers`: which common `.env` readers would not
read back a variable exactly as secconf writes it. Writes nothing, shows no value."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from secconf.operations.project import Project


@dataclass(frozen=True)
class ReaderCheck:
    """One delivered variable and the readers (of `OTHER_READERS`) that misread it."""

    environment: str
    variable: str
    misread_by: tuple[str, ...]


def check_readers(
    project: Project,
    names: Sequence[str],
    *,
    all_: bool,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> list[ReaderCheck]:
    """Every variable the selected environments deliver to their `.env`, in schema order.

    Keys an environment lacks are generated in memory only (as for a render that is not
    written), so the check stores nothing. A value no quoting can carry raises
    `RenderError`, as the render would.
    """
    from secconf.operations.prepare import prepare
    from secconf.render._dotenv_quote import misreading_readers
    from secconf.render.base import delivered_values

    checks = []
    for environment in project.select(names, all_=all_):
        prepared = prepare(project, environment, notify=notify, environ=environ)
        for variable, text in delivered_values(prepared.config):
            checks.append(ReaderCheck(environment.name, variable.name, misreading_readers(text)))
    return checks
