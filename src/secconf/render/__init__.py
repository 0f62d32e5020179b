"""Render: one resolved environment in, the bytes of one artifact out.

One module per target in `secconf.render.targets`, each declaring a `RenderTarget`
that `secconf.render.registry` discovers. Rendering is pure and deterministic: no
clock, no randomness, no network; the same input gives the same bytes.
"""

from __future__ import annotations

from secconf.render.base import Artifact, RenderInput, delivered_values

__all__ = ["Artifact", "RenderInput", "delivered_values"]
