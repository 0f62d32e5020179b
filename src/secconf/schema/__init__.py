"""The typed schema of variables (`schema/*.yaml`)."""

from __future__ import annotations

from secconf.schema.loader import load_schema
from secconf.schema.models import Constraints, Generator, Schema, Section, Variable

__all__ = ["Constraints", "Generator", "Schema", "Section", "Variable", "load_schema"]
