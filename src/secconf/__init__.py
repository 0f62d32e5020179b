"""secconf: configuration as code for application settings and secrets.

A typed schema of every variable an application reads drives validation and the
delivery of per-environment values as .env files, Kubernetes Secrets and ConfigMaps,
and HashiCorp Vault KV v2 writes.
"""

from __future__ import annotations

__version__ = "0.1.0"
