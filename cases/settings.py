"""Process settings, read from the environment and an optional `.env` file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-000000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    # Unset URLs make `cases serve` start an embedded server in data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    data_dir: Path = Path(".cases-data")

    secret_key: str = DEV_SECRET_KEY
    token_ttl_s: int = 8 * 3600
    app_url: str = "http://127.0.0.1:8000"
    mail_from: str = "Safeguarding Cases <cases@localhost>"

    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Introspection and GraphiQL default to on in development only.
    graphiql: bool | None = None
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 256 * 1024
    max_query_depth: int = 12
    max_query_tokens: int = 2000
    max_aliases: int = 30
    rate_limit_per_minute: int = 600

    alert_max_tries: int = 6
    alert_retry_base_s: float = 2.0
    smtp_timeout_s: float = 10.0
    outbox_sweep_interval_s: int = 60

    log_level: str = "INFO"

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphiql is None:
            return self.environment == "development"
        return self.graphiql


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
