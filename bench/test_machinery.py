"""The benchmark machinery checks itself on the tiny scale.

Run explicitly, with the machine's PostgreSQL and Redis (it is not collected by
the suite, whose testpaths is tests/, and needs no timing to pass):

    pytest bench/test_machinery.py
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.profile import EVENT_LOOP, layer_of

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_run_answers_as_the_limit_does(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BENCH_OUT": str(tmp_path),
        "BENCH_RUN_DB": "cases_bench_selftest",
        "BENCH_REDIS_URL": "redis://127.0.0.1:6379/14",
    }
    command = [
        sys.executable, "-m", "bench.run", "--scale", "tiny", "--reload",
        "--seconds", "1", "--warmup", "0.2", "--concurrency", "1,4",
        "--no-compare", "--no-doc",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "bench/results/latest.json").read_text())
    assert results["same_json"] == dict.fromkeys("1234", "yes (3/3)")
    service = [p for p in results["phases"] if p["side"] == "service"]
    assert {p["op"] for p in service} == {"1", "2", "3", "4", "5a", "5b"}
    for phase in results["phases"]:
        assert phase["errors"] == 0, phase["first_error"]
        assert phase["requests"] > 0
    for phase in service:
        low, high = phase["statements_range"]
        assert low == high, f"op {phase['op']}: statements vary per request"
    assert [run["side"] for run in results["bulk"]] == ["limit", "service", "limit"]
    assert all(run["updated"] > 0 for run in results["bulk"])


def test_profile_charges_the_innermost_known_layer() -> None:
    compile_stack = [
        "_run (asyncio/events.py:80)",
        "incident_page (models/incident_search.py:150)",
        "execute (sqlalchemy/ext/asyncio/engine.py:667)",
        "__enter__ (contextlib.py:137)",
        "process (sqlalchemy/sql/compiler.py:1018)",
    ]
    assert layer_of(compile_stack) == "SQLAlchemy Core build + compile"
    ours = ["_run (asyncio/events.py:80)", "encode_id (resolvers/ids.py:9)"]
    assert layer_of(ours) == "our resolvers"
    passed_on = ["handler (uvicorn/protocols/http/h.py:5)", "__call__ (enum.py:700)"]
    assert layer_of(passed_on) == "HTTP (uvicorn, Starlette, middleware)"
    assert layer_of(["_run (asyncio/events.py:80)"]) == EVENT_LOOP
