"""A per-user request budget per minute, kept in Redis so that it holds across
every API process.

Fixed windows: one counter per user per clock minute, at the price that a user
may spend up to twice the budget across the boundary between two minutes.

A process does not ask Redis on every request: it reserves a lease of a few
requests at a time (a fiftieth of the budget) and spends it locally, so one
round trip serves many requests. Reservations count against the budget when
taken, so all processes together never let more than the budget through; the
cost is that a lease a process took and did not use is lost to the others
until the minute ends, so a user whose requests are spread over several
processes may be refused up to one lease per other process early.
"""

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models import clock

logger = logging.getLogger(__name__)

WINDOW_S = 60
KEY_PREFIX = "cases:rate"
# While Redis is failing, each attempt costs a connect timeout; after a failure
# the limit is skipped this long so an outage does not slow every request.
OUTAGE_BACKOFF_S = 5.0
LEASES_PER_BUDGET = 50


@dataclass(slots=True)
class _Lease:
    remaining: int
    refused_logged: bool = False


class RateLimited(Exception):
    """The user spent this minute's budget."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"Too many requests; retry in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s


class RateLimit:
    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute
        self.lease_size = max(1, per_minute // LEASES_PER_BUDGET)
        self._skip_until_s = 0.0
        # This minute's leases by user; emptied when the minute changes.
        self._window = -1
        self._leases: dict[int, _Lease] = {}

    async def spend(self, user_id: int) -> None:
        """Counts one request of the user; RateLimited once over the budget.

        A per_minute of 0 or less turns the limit off.
        """
        if self.per_minute <= 0 or time.monotonic() < self._skip_until_s:
            return
        now_s = clock.now().timestamp()
        window = int(now_s // WINDOW_S)
        if window != self._window:
            self._window = window
            self._leases.clear()
        lease = self._leases.get(user_id)
        if lease is not None and lease.remaining > 0:
            lease.remaining -= 1
            return
        try:
            reserved = await self._reserve(f"{KEY_PREFIX}:{user_id}:{window}")
        except (RedisError, OSError):
            # Fail open: the limit protects capacity, not confidentiality (the
            # token and membership checks do not depend on Redis), and refusing
            # everyone while Redis is down would stop schools recording concerns.
            self._skip_until_s = time.monotonic() + OUTAGE_BACKOFF_S
            logger.warning(
                "rate limit skipped for %.0f s: redis unreachable", OUTAGE_BACKOFF_S
            )
            return
        granted = min(self.lease_size, self.per_minute - (reserved - self.lease_size))
        if lease is None:
            lease = self._leases[user_id] = _Lease(0)
        if granted > 0:
            lease.remaining += granted - 1  # this request spends one
            return
        if not lease.refused_logged:
            lease.refused_logged = True
            logger.warning(
                "user %s over the limit of %s requests a minute",
                user_id,
                self.per_minute,
            )
        raise RateLimited(max(1, math.ceil((window + 1) * WINDOW_S - now_s)))

    async def _reserve(self, key: str) -> int:
        """Takes a lease; answers the user's reservations this minute, all
        processes together, this one included."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, self.lease_size)
            # Twice the window, so a counter outlives any clock skew between
            # processes that still write to it.
            pipe.expire(key, 2 * WINDOW_S)
            count, _ = await pipe.execute()
        return int(count)
