"""Render targets: one module per target."""
