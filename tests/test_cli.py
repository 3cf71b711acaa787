"""`cases` as an operator runs it: a real process, embedded servers, HTTP."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import psutil
import pytest

from cases.cli import main
from cases.mailcatcher import MailCatcher
from tests.fixtures import ADD

VIEWER = "{ viewer { user { email role } school { name } } }"
DSL_EMAIL = "dsl@primary.example"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # As root, pgserver runs PostgreSQL as the user "pgserver", who must be
    # able to traverse to the data. pytest makes its base folder private again
    # whenever another session starts, so the data lives outside it.
    folder = Path(tempfile.mkdtemp(prefix="cases-test-"))
    yield folder / "data"
    # A failed test must not leave servers behind for the rest of the run.
    for process in _servers_using(folder):
        with suppress(psutil.NoSuchProcess):
            process.kill()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cli_env(data_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "APP_URL")
    }
    env["DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def session_servers(
    cli_env: dict[str, str],
    baseline: dict[str, int],
    database_url: str,
    redis_url: str,
    mail: MailCatcher,
) -> dict[str, str]:
    """The environment of a `cases` process using the test session's servers:
    in CI's second run, the machine's PostgreSQL 15 and Redis 7."""
    return {
        **cli_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_URL": mail.url,
    }


class Service:
    """One `cases serve` process, its log kept in a file for failures."""

    def __init__(
        self, tmp_path: Path, env: dict[str, str], port: int, *options: str
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = tmp_path / f"serve-{time.monotonic_ns()}.log"
        command = ["serve", "--port", str(port), *options]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cases.cli", *command],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"cases serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"cases serve not healthy in {START_TIMEOUT_S} s:\n{self.log()}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"cases serve ignored SIGINT:\n{self.log()}")

    def viewer(self, token: str) -> dict[str, object]:
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": VIEWER},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        viewer: dict[str, object] = body["data"]["viewer"]
        return viewer


def _cases(
    env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cases.cli", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


def _servers_using(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        cwd = process.info["cwd"] or ""
        if str(data_dir) in cmdline or cwd.startswith(str(data_dir)):
            found.append(process)
    return found


def test_serve_runs_demo_and_stops_cleanly(
    tmp_path: Path, data_dir: Path, cli_env: dict[str, str]
) -> None:
    port = _free_port()
    service = Service(tmp_path, cli_env, port)
    try:
        service.wait_healthy()
        demo = _cases(cli_env, tmp_path, "demo")
        assert demo.returncode == 0, demo.stderr
        issued = _cases(cli_env, tmp_path, "token", DSL_EMAIL)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()

        assert service.viewer(token) == {
            "user": {"email": DSL_EMAIL, "role": "KEY_USER"},
            "school": {"name": "Demo Primary"},
        }
        loaded = _incident_numbers(service, token)
        demo_again = _cases(cli_env, tmp_path, "demo")
        assert demo_again.returncode == 0, demo_again.stderr
        assert _incident_numbers(service, token) == loaded
        assert len(loaded) > 20
        _add_incident(service, token)
        assert service.interrupt() == 0, service.log()
    finally:
        if service.process.poll() is None:
            service.process.kill()

    deadline = time.monotonic() + 5
    while _servers_using(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers_using(data_dir) == []
    assert "GraphiQL at http://127.0.0.1:" in service.log()

    again = Service(tmp_path, cli_env, port)
    try:
        again.wait_healthy()
        assert again.viewer(token)["school"] == {"name": "Demo Primary"}
        # Every incident survived the restart, the one added last included.
        kept = sorted(_incident_numbers(again, token))
        assert kept == sorted([*loaded, len(loaded) + 1])
        assert again.interrupt() == 0, again.log()
    finally:
        if again.process.poll() is None:
            again.process.kill()


def _incident_numbers(service: Service, token: str) -> list[int]:
    answer = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": "{ incidents(first: 100) { nodes { number } } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return [node["number"] for node in answer.json()["data"]["incidents"]["nodes"]]


def _add_incident(service: Service, token: str) -> str:
    """Records an incident as the token's user; returns the request's id."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{service.base_url}/graphql"
    query = "{ students(first: 1) { nodes { id } } categories { id } }"
    data = httpx.post(url, json={"query": query}, headers=headers).json()["data"]
    incident = {
        "studentIds": [data["students"]["nodes"][0]["id"]],
        "categoryIds": [data["categories"][0]["id"]],
        "description": "Took lunch money from a younger pupil.",
        "occurredAt": "2026-11-20T10:15:00+00:00",
    }
    answer = httpx.post(
        url, json={"query": ADD, "variables": {"input": incident}}, headers=headers
    )
    assert "errors" not in answer.json(), answer.text
    return answer.headers["x-request-id"]


def _assert_one_error_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("cases: error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_chores_refuse_unknown_names_in_one_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    assert _cases(cli_env, tmp_path, "migrate").returncode == 0
    assert _cases(cli_env, tmp_path, "demo").returncode == 0

    _assert_one_error_line(_cases(cli_env, tmp_path, "token", "nobody@x.example"))
    _assert_one_error_line(
        _cases(cli_env, tmp_path, "module", "enable", "Nowhere School")
    )
    for state in ("disable", "enable"):
        switched = _cases(cli_env, tmp_path, "module", state, "Demo Primary")
        assert switched.returncode == 0, switched.stderr


def test_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_module_state_must_be_enable_or_disable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["module", "on", "Demo Primary"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_serve_uses_configured_servers(
    tmp_path: Path, session_servers: dict[str, str]
) -> None:
    service = Service(tmp_path, session_servers, _free_port())
    try:
        service.wait_healthy()
        ready = httpx.get(f"{service.base_url}/readyz")
        assert ready.json() == {"database": True, "redis": True}
        issued = _cases(session_servers, tmp_path, "token", DSL_EMAIL)
        assert issued.returncode == 0, issued.stderr
        viewer = service.viewer(issued.stdout.strip())
        assert viewer["school"] == {"name": "Demo Primary"}
        request_id = _add_incident(service, issued.stdout.strip())
        assert service.interrupt() == 0, service.log()
    finally:
        if service.process.poll() is None:
            service.process.kill()
    assert "embedded" not in service.log().lower()
    # The line the request logged carries its id, as configured at start.
    added = [line for line in service.log().splitlines() if " added by user " in line]
    assert len(added) == 1 and f"[{request_id}]" in added[0], service.log()
    assert "Took lunch money" not in service.log()


def _connections_on(process: psutil.Process, port: int) -> int:
    return sum(
        1
        for connection in process.net_connections("tcp")
        if connection.status == psutil.CONN_ESTABLISHED
        and connection.laddr
        and connection.laddr.port == port
    )


def _api_processes(service: Service) -> list[psutil.Process]:
    children = psutil.Process(service.process.pid).children()
    return [child for child in children if "python" in child.name().lower()]


@pytest.fixture
def two_processes(tmp_path: Path, session_servers: dict[str, str]) -> Iterator[Service]:
    """`cases serve --processes 2` on the session's servers, healthy."""
    service = Service(tmp_path, session_servers, _free_port(), "--processes", "2")
    try:
        service.wait_healthy()
        yield service
    finally:
        if service.process.poll() is None:
            service.process.kill()


def test_serve_spreads_connections_over_processes(
    tmp_path: Path, session_servers: dict[str, str], two_processes: Service
) -> None:
    service = two_processes
    processes = _api_processes(service)
    assert len(processes) == 2, service.log()
    token = _cases(session_servers, tmp_path, "token", DSL_EMAIL).stdout.strip()
    # The kernel places each new connection on one process's socket by its
    # addresses: with 24 held open, all on one process has odds of 1 in 8
    # million.
    clients = [httpx.Client(base_url=service.base_url) for _ in range(24)]
    try:
        for client in clients:
            answer = client.post(
                "/graphql",
                json={"query": VIEWER},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.json()["data"]["viewer"]["school"]["name"]
        held = [_connections_on(process, service.port) for process in processes]
    finally:
        for client in clients:
            client.close()
    assert sum(held) == 24
    assert min(held) > 0, held
    assert service.interrupt() == 0, service.log()
    assert not any(process.is_running() for process in processes)


def test_serve_stops_when_an_api_process_dies(two_processes: Service) -> None:
    first, second = _api_processes(two_processes)
    first.kill()
    assert two_processes.process.wait(STOP_TIMEOUT_S) == 1, two_processes.log()
    assert not second.is_running()
    assert "stopped unexpectedly" in two_processes.log()
