"""Embedded PostgreSQL, Redis and SMTP servers for development and tests.

Each server keeps its state under one data directory, so a restart finds the
database, the queued jobs and the delivered mail where it left them. Several
processes may use the same directory at once (`cases demo` beside a running
`cases serve`): PostgreSQL and Redis each keep a list of the processes that
use them, and the last one to leave stops the server.
"""

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Self

from cases.embedded.common import EmbeddedServiceError
from cases.embedded.postgres import EmbeddedPostgres
from cases.embedded.redis import EmbeddedRedis
from cases.mailcatcher import MailCatcher
from cases.settings import Settings

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServiceError",
    "EmbeddedServices",
    "mail_dir",
    "resolve_settings",
]

logger = logging.getLogger(__name__)


def mail_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "mail"


class EmbeddedServices:
    """Starts the servers asked for on enter and stops them on exit."""

    def __init__(
        self,
        data_dir: Path,
        *,
        postgres: bool = True,
        redis: bool = True,
        smtp: bool = True,
        smtp_port: int = 0,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.mail_dir = mail_dir(data_dir)
        self._wanted = {"postgres": postgres, "redis": redis, "smtp": smtp}
        self._smtp_port = smtp_port
        self.database_url: str | None = None
        self.redis_url: str | None = None
        self.smtp_url: str | None = None
        self.mail_catcher: MailCatcher | None = None
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        if any(self._wanted.values()):
            self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_wanted()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _start_wanted(self) -> None:
        if self._wanted["postgres"]:
            postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.database_url = self._stack.enter_context(postgres).url
        if self._wanted["redis"]:
            redis_server = EmbeddedRedis(self.data_dir / "redis")
            self.redis_url = self._stack.enter_context(redis_server).url
        if self._wanted["smtp"]:
            catcher = MailCatcher(self.mail_dir, port=self._smtp_port)
            self.mail_catcher = self._stack.enter_context(catcher)
            self.smtp_url = catcher.url
            logger.info("mail catcher on %s, writing to %s", catcher.url, self.mail_dir)


def resolve_settings(
    settings: Settings,
    stack: ExitStack,
    *,
    postgres: bool = True,
    redis: bool = True,
    smtp: bool = True,
) -> Settings:
    """Start embedded servers for the unset URLs among those asked for.

    The servers live until `stack` closes. Returns a copy of `settings` with
    their URLs filled in; URLs that were set are left alone.
    """
    services = EmbeddedServices(
        settings.data_dir,
        postgres=postgres and settings.database_url is None,
        redis=redis and settings.redis_url is None,
        smtp=smtp and settings.smtp_url is None,
    )
    stack.enter_context(services)
    urls = {
        "database_url": services.database_url,
        "redis_url": services.redis_url,
        "smtp_url": services.smtp_url,
    }
    update = {name: url for name, url in urls.items() if url is not None}
    return settings.model_copy(update=update)
