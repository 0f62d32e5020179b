"""What every renderer takes and gives, and the values it delivers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secconf.core.secret import reveal
from secconf.environment.resolve import Config
from secconf.schema.models import Variable
from secconf.schema.values import canonical_text

if TYPE_CHECKING:
    from secconf.render.templating import Templates


@dataclass(frozen=True)
class RenderInput:
    """A resolved environment, its templates, and the key of its checksum annotation.

    `templates` may be None for callers that only build data (deploy), never text.
    """

    config: Config
    templates: Templates | None
    checksum_key: bytes

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render one template of this input."""
        if self.templates is None:
            raise RuntimeError("this render input has no templates")
        return self.templates.render(name, context)


@dataclass(frozen=True)
class Artifact:
    """Rendered bytes, the target they are for, and where they go by default."""

    target: str
    environment: str
    content: bytes = field(repr=False)  # may hold secrets: never shown
    path: str  # relative to the config repo, from the environment's target settings
    note: str | None = None  # a next step for the user; `{path}` is where it was written
    mode: int = 0o600  # every artifact may hold secrets, but .env.example


def delivered_values(config: Config) -> list[tuple[Variable, str]]:
    """Every variable secconf delivers, in schema order, as the application will read it.

    Unset variables (left to the application's start-up default) are not delivered.
    """
    out = []
    for resolved in config.values.values():
        if resolved.value is not None:
            text = reveal(resolved.value)  # delivery: the one place values leave their mask
            out.append((resolved.variable, canonical_text(resolved.variable, text)))
    return out


def checksum(values: list[tuple[Variable, str]], key: bytes) -> str:
    """HMAC-SHA256 of every delivered name and value: changes with any value, reveals none."""
    payload = json.dumps([[v.name, text] for v, text in values], ensure_ascii=False)
    import hashlib
    import hmac

    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def target_path(template: str, config: Config) -> str:
    """A target path setting with `{env}` filled in."""
    from secconf.core.paths import fill

    return fill(template, env=config.environment.name)
