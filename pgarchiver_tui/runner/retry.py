"""Retrying transient failures: exponential backoff with full jitter, bounded in attempts and time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first included
    base_seconds: float = 1.0
    cap_seconds: float = 30.0
    budget_seconds: float = 300.0  # no retry starts once this much time went into one object

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The pauses before the 2nd, 3rd … attempt (full jitter: uniform up to the exponential step)."""
        rng = rng or random.Random()
        for n in range(self.attempts - 1):
            yield rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**n))


NO_RETRY = RetryPolicy(attempts=1)
