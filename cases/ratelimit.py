"""A per-user request budget per minute, kept in Redis so that it holds across
every API process.

Fixed windows: one counter per user per clock minute. Simple and one round trip,
at the price that a user may spend up to twice the budget across the boundary
between two minutes.
"""

import logging
import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models import clock

logger = logging.getLogger(__name__)

WINDOW_S = 60
KEY_PREFIX = "cases:rate"
# While Redis is failing, each attempt costs a connect timeout; after a failure
# the limit is skipped this long so an outage does not slow every request.
OUTAGE_BACKOFF_S = 5.0


class RateLimited(Exception):
    """The user spent this minute's budget."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"Too many requests; retry in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s


class RateLimit:
    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute
        self._skip_until_s = 0.0

    async def spend(self, user_id: int) -> None:
        """Counts one request of the user; RateLimited once over the budget.

        A per_minute of 0 or less turns the limit off.
        """
        if self.per_minute <= 0 or time.monotonic() < self._skip_until_s:
            return
        now_s = clock.now().timestamp()
        window = int(now_s // WINDOW_S)
        try:
            count = await self._count(f"{KEY_PREFIX}:{user_id}:{window}")
        except (RedisError, OSError):
            # Fail open: the limit protects capacity, not confidentiality (the
            # token and membership checks do not depend on Redis), and refusing
            # everyone while Redis is down would stop schools recording concerns.
            self._skip_until_s = time.monotonic() + OUTAGE_BACKOFF_S
            logger.warning(
                "rate limit skipped for %.0f s: redis unreachable", OUTAGE_BACKOFF_S
            )
            return
        if count <= self.per_minute:
            return
        if count == self.per_minute + 1:
            logger.warning(
                "user %s over the limit of %s requests a minute",
                user_id,
                self.per_minute,
            )
        raise RateLimited(max(1, math.ceil((window + 1) * WINDOW_S - now_s)))

    async def _count(self, key: str) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            # Twice the window, so a counter outlives any clock skew between
            # processes that still write to it.
            pipe.expire(key, 2 * WINDOW_S)
            count, _ = await pipe.execute()
        return int(count)
