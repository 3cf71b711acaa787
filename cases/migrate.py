"""Run the Alembic migrations from code (used by `cases serve`, `migrate`, tests)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def compared(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """Alembic's include_object for comparing the database with the models:
    everything but the generated search column, whose SQL expression
    PostgreSQL prints back in a form the comparison cannot match."""
    return not (type_ == "column" and name == "search_vector")


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
