"""Process settings, read from the environment and an optional `.env` file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-000000"
# HS256 keys shorter than its 256-bit output weaken it (RFC 7518 section 3.2).
MIN_SECRET_KEY_CHARS = 32


class Settings(BaseSettings):
    # Errors would otherwise quote the input, SECRET_KEY included.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "production"] = "development"
    # Unset URLs make `cases serve` start an embedded server in data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    data_dir: Path = Path(".cases-data")

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    token_ttl_s: int = 8 * 3600
    app_url: str = "http://127.0.0.1:8000"
    mail_from: str = "Safeguarding Cases <cases@localhost>"

    db_pool_size: int = 20
    # Beyond the pool a request waits for a connection rather than opening one:
    # a new PostgreSQL session costs more CPU than most requests do, and under
    # load overflow connections were opened and closed hundreds of times a
    # second.
    db_max_overflow: int = 0
    # Introspection and GraphiQL default to on in development only.
    graphiql: bool | None = None
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 256 * 1024
    max_query_depth: int = 12
    max_query_tokens: int = 2000
    max_aliases: int = 30
    # Requests per user per minute, across every API process; 0 turns it off.
    rate_limit_per_minute: int = 600

    alert_max_tries: int = 6
    # Doubles after each try: 10, 20, 40, 80, 160 s, so a relay gets about
    # five minutes to recover before an alert is marked ALERT_FAILED.
    alert_retry_base_s: float = 10.0
    smtp_timeout_s: float = 10.0
    # PEM certificates to trust for the SMTP server's TLS (a relay with a
    # private CA); unset: the system's trusted CAs.
    smtp_ca_file: Path | None = None
    # Must divide a minute or an hour: the sweep runs on arq's cron.
    outbox_sweep_interval_s: int = 60
    # Younger PENDING rows are left to the enqueue that follows their commit.
    outbox_sweep_grace_s: float = 5.0
    # Alerts one worker sends at once; each holds a database connection.
    alert_concurrency: int = 20
    # How often an idle worker asks Redis for jobs; bounds alert latency.
    worker_poll_delay_s: float = 0.05

    log_level: str = "INFO"
    # Hot read documents answered by one SQL statement (schema/compiled.py);
    # off, every request goes through Strawberry's ordinary execution.
    compiled_reads: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.environment != "production":
            return self
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET_KEY or len(secret) < MIN_SECRET_KEY_CHARS:
            raise ValueError(
                "production needs SECRET_KEY: at least "
                f"{MIN_SECRET_KEY_CHARS} random characters, not the development key"
            )
        if "*" in self.cors_origins:
            raise ValueError("production needs CORS_ORIGINS to name the app's origins")
        return self

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphiql is None:
            return self.environment == "development"
        return self.graphiql


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
