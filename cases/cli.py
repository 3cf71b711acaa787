"""The `cases` command: run the service, its worker and its chores.

Every command that needs PostgreSQL, Redis or SMTP and finds its URL unset
starts an embedded server in the data folder (see `cases.embedded`) and stops
it on the way out. Imports of the application are made inside the commands,
so `cases --help` works whatever state the rest of the code is in.
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from cases.embedded import mail_dir, resolve_settings
from cases.logs import configure_logging
from cases.settings import Settings

if TYPE_CHECKING:
    from arq.worker import Worker

logger = logging.getLogger(__name__)

T = TypeVar("T")
Command = Callable[[Settings, argparse.Namespace], int]


class CliError(Exception):
    """A failure that one line on stderr explains to the operator."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        configure_logging(settings.log_level)
        _interrupt_on_sigterm()
        command: Command = args.command
        return command(settings, args)
    except KeyboardInterrupt:
        print("cases: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("CASES_DEBUG") == "1":
            raise
        print(f"cases: error: {_describe(error)}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cases",
        description="Safeguarding cases API. Unset DATABASE_URL, REDIS_URL or "
        "SMTP_URL start embedded servers in DATA_DIR (default .cases-data).",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API and the job worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--no-worker", action="store_true", help="do not run the job worker"
    )
    serve.add_argument(
        "--processes",
        type=_positive,
        default=1,
        help="API processes, each with its own socket on the port (default 1; "
        "2 served most on a 2-core machine in the benchmark)",
    )
    serve.set_defaults(command=_serve)

    worker = commands.add_parser("worker", help="run the job worker alone")
    worker.set_defaults(command=_worker)

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.set_defaults(command=_migrate)

    demo = commands.add_parser("demo", help="load the demo schools and users")
    demo.set_defaults(command=_demo)

    token = commands.add_parser("token", help="print a bearer token for a user")
    token.add_argument("email")
    token.add_argument("--school", help="school name, if the user has several")
    token.set_defaults(command=_token)

    module = commands.add_parser(
        "module", help="turn the cases module on or off for a school"
    )
    module.add_argument("state", choices=["enable", "disable"])
    module.add_argument("school")
    module.set_defaults(command=_module)

    from cases.roster import add_roster_parser

    add_roster_parser(commands)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from cases.migrate import upgrade

    with ExitStack() as stack:
        started = resolve_settings(settings, stack)
        if "app_url" not in settings.model_fields_set:
            started = started.model_copy(
                update={"app_url": _base_url(args.host, args.port)}
            )
        assert started.database_url is not None
        upgrade(started.database_url)
        _print_where(settings, started, args.host, args.port)
        if args.processes > 1:
            return _serve_processes(started, args)
        _run(_serve_async(started, args.host, args.port, not args.no_worker))
    return 0


def _serve_processes(settings: Settings, args: argparse.Namespace) -> int:
    """API processes forked from this one, and the worker (if any) in this one.

    When one API process ends on its own the rest are stopped too, so a
    half-serving service never looks healthy.
    """
    from cases.app import create_app
    from cases.processes import (
        bind_sockets,
        fork_api_processes,
        stop_processes,
        uvicorn_config,
        wait_first_exit,
    )

    try:
        sockets = bind_sockets(args.host, args.port, args.processes)
    except OSError as error:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {error}") from error
    pids = fork_api_processes(lambda: create_app(settings), sockets, uvicorn_config)
    logger.info("%d API processes started: %s", len(pids), pids)
    ended: int | None = None
    try:
        if args.no_worker:
            ended = wait_first_exit(pids)
        else:
            ended = _run(_work_async(settings, api_pids=pids))
    except KeyboardInterrupt:
        ended = None
    finally:
        stop_processes(pids)
    if ended is not None:
        raise CliError(f"API process {ended} stopped unexpectedly")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        started = resolve_settings(settings, stack)
        _run(_work_async(started))
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from cases.migrate import upgrade

    with ExitStack() as stack:
        started = resolve_settings(settings, stack, redis=False, smtp=False)
        assert started.database_url is not None
        upgrade(started.database_url)
    logger.info("database schema is up to date")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from models.demo import load_demo

    with ExitStack() as stack:
        started = resolve_settings(settings, stack, redis=False, smtp=False)
        assert started.database_url is not None
        _run(load_demo(started.database_url))
    logger.info("demo data loaded")
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from cases.auth import TokenError, token_for_email

    with ExitStack() as stack:
        started = resolve_settings(settings, stack, redis=False, smtp=False)
        try:
            token = _run(token_for_email(started, args.email, args.school))
        except TokenError as error:
            raise CliError(str(error)) from error
    print(token)
    return 0


def _module(settings: Settings, args: argparse.Namespace) -> int:
    from models.schools import set_cases_enabled

    enabled = args.state == "enable"
    with ExitStack() as stack:
        started = resolve_settings(settings, stack, redis=False, smtp=False)
        assert started.database_url is not None
        try:
            _run(set_cases_enabled(started.database_url, args.school, enabled))
        except LookupError as error:
            raise CliError(_first_arg(error)) from error
    print(f"cases module {'enabled' if enabled else 'disabled'} for {args.school}")
    return 0


async def _serve_async(settings: Settings, host: str, port: int, work: bool) -> None:
    import uvicorn

    from cases.app import create_app
    from cases.processes import uvicorn_config

    server = uvicorn.Server(uvicorn_config(create_app(settings), host, port))
    worker = _build_worker(settings) if work else None

    def stop() -> None:
        server.should_exit = True

    # Installed after the worker is built, as arq may install its own.
    _on_stop_signals(stop)
    task = asyncio.create_task(worker.async_run()) if worker else None
    if task is not None:
        task.add_done_callback(lambda _: stop())
    try:
        await server.serve()
    except SystemExit as exit_:
        raise CliError(f"the HTTP server on {host}:{port} did not start") from exit_
    finally:
        if worker is not None and task is not None:
            task.cancel()
            await _finish_worker(worker, task)


async def _work_async(settings: Settings, api_pids: Sequence[int] = ()) -> int | None:
    """The worker until a stop signal, or until one of `api_pids` ends: then
    that process's pid."""
    worker = _build_worker(settings)
    task = asyncio.create_task(worker.async_run())
    _on_stop_signals(task.cancel)
    watch = asyncio.create_task(_cancel_when_one_ends(api_pids, task))
    try:
        await _finish_worker(worker, task)
    finally:
        watch.cancel()
    return watch.result() if watch.done() and not watch.cancelled() else None


async def _cancel_when_one_ends(
    pids: Sequence[int], task: asyncio.Task[None]
) -> int | None:
    from cases.processes import POLL_S, first_exit

    if not pids:
        return None
    while (ended := first_exit(pids)) is None:  # noqa: ASYNC110 - no exit event
        await asyncio.sleep(POLL_S)
    task.cancel()
    return ended


def _build_worker(settings: Settings) -> "Worker":
    from workers.settings import build_worker

    # arq's Worker binds to the loop current at construction: build it here.
    return build_worker(settings)


async def _finish_worker(worker: "Worker", task: asyncio.Task[None]) -> None:
    """Wait for the worker's task to end, close the worker, re-raise a crash."""
    await asyncio.wait([task])
    await worker.close()
    logger.info(
        "job worker stopped: %d complete, %d failed, %d retried",
        worker.jobs_complete,
        worker.jobs_failed,
        worker.jobs_retried,
    )
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


def _on_stop_signals(callback: Callable[[], object]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, callback)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    finally:
        # Closing the loop resets SIGTERM to its default, which would end
        # the process before the embedded servers are stopped.
        _interrupt_on_sigterm()


def _interrupt_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_where(before: Settings, after: Settings, host: str, port: int) -> None:
    print(f"cases: data folder {before.data_dir.resolve()}", flush=True)
    if before.smtp_url is None:
        print(f"cases: mail folder {mail_dir(before.data_dir)}", flush=True)
    page = "GraphiQL" if after.graphiql_enabled else "GraphQL endpoint"
    print(f"cases: {page} at {_base_url(host, port)}/graphql", flush=True)


def _base_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _describe(error: Exception) -> str:
    if isinstance(error, CliError):
        return str(error)
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        name = "_".join(str(part) for part in first["loc"]).upper()
        return f"invalid setting {name}: {first['msg']}"
    text = str(error).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return f"{type(error).__name__}{detail}"


def _first_arg(error: BaseException) -> str:
    # str(KeyError("x")) is "'x'": the message itself reads better.
    return str(error.args[0]) if error.args else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
