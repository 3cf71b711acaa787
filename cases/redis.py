"""Turning a Redis URL into the connection settings arq wants."""

from urllib.parse import parse_qs, unquote, urlsplit

from arq.connections import RedisSettings

_SCHEMES = ("redis", "rediss", "unix")


def redis_settings_from_url(url: str) -> RedisSettings:
    """Parse `redis://`, `rediss://` or `unix://` URLs into arq settings.

    The database comes from `?db=N`, or from the path of a TCP URL
    (`redis://host:6379/5`). Unlike `RedisSettings.from_dsn`, credentials are
    percent-decoded and unknown schemes or malformed databases raise
    `ValueError`, so a typo in REDIS_URL fails at start-up with its reason.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    database = _database(parts.scheme, parts.path, parts.query)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// Redis URL needs a socket path")
        return RedisSettings(
            unix_socket_path=parts.path,
            database=database,
            username=username,
            password=password,
        )

    return RedisSettings(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        database=database,
        username=username,
        password=password,
        ssl=parts.scheme == "rediss",
    )


def _database(scheme: str, path: str, query: str) -> int:
    from_query = parse_qs(query).get("db")
    if from_query:
        raw = from_query[0]
    elif scheme != "unix" and path.strip("/"):
        raw = path.strip("/")
    else:
        return 0

    if not raw.isdigit():
        raise ValueError(f"Redis database must be a number, got {raw!r}")
    return int(raw)
