"""Retrying transient faults: capped exponential backoff with jitter under a total deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry. `sleep` and `clock` are replaceable for tests."""

    attempts: int = 6
    base_seconds: float = 0.2
    cap_seconds: float = 5.0
    deadline_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt: int) -> float:
        """Full-jitter backoff for the given (1-based) retry."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (timing jitter, not crypto)


def with_retries(
    call: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    policy: RetryPolicy | None = None,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """Run `call`; retry it while it raises a transient error and time remains.

    `on_retry(error, attempt, delay)` is told of each retry (for a log line); the last
    error is raised when attempts or the deadline run out.
    """
    rules = policy or RetryPolicy()
    started = rules.clock()
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            attempt += 1
            if not transient(exc) or attempt >= rules.attempts:
                raise
            delay = rules.delay(attempt)
            if rules.clock() - started + delay > rules.deadline_seconds:
                raise
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            rules.sleep(delay)
