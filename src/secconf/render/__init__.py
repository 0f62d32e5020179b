"""Render: one resolved environment in, the bytes of one artifact out.

One module per target (dotenv, dotenv-example, kubernetes, vault), each a function
`RenderInput -> Artifact` in the TARGETS registry. Rendering is pure and
deterministic: no clock, no randomness, no network; the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from secconf.render.base import Artifact, RenderInput, delivered_values
from secconf.render.targets.dotenv import render_dotenv, render_dotenv_example
from secconf.render.targets.kubernetes import render_kubernetes
from secconf.render.targets.vault import render_vault

TARGETS: dict[str, Callable[[RenderInput], Artifact]] = {
    "dotenv": render_dotenv,
    "kubernetes": render_kubernetes,
    "vault": render_vault,
    "dotenv-example": render_dotenv_example,
}

__all__ = ["TARGETS", "Artifact", "RenderInput", "delivered_values"]
