"""Deploy tests retry with millisecond backoff, so fault tests take no real time."""

from __future__ import annotations

import dataclasses

import pytest


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink RetryPolicy's default backoff (base 1 ms, cap 5 ms); attempts stay as shipped.

    The defaults live in the dataclass's generated __init__, not on the class: setting
    `RetryPolicy.base_seconds` would change nothing for `RetryPolicy()`.
    """
    from secconf.core.retry import RetryPolicy

    names = [f.name for f in dataclasses.fields(RetryPolicy)]
    defaults = list(RetryPolicy.__init__.__defaults__ or ())
    assert len(defaults) == len(names)
    defaults[names.index("base_seconds")] = 0.001
    defaults[names.index("cap_seconds")] = 0.005
    monkeypatch.setattr(RetryPolicy.__init__, "__defaults__", tuple(defaults))
