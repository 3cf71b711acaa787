from pathlib import Path

from graphql import build_schema, find_breaking_changes, find_dangerous_changes

from cases.export_schema import SDL_PATH, sdl
from schema import schema

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract.graphql"


def test_committed_sdl_matches_code() -> None:
    assert SDL_PATH.read_text() == sdl(), "run: python -m cases.export_schema"


def test_schema_keeps_every_promise_of_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    breaking = find_breaking_changes(contract, schema._schema)
    dangerous = find_dangerous_changes(contract, schema._schema)
    assert [c.description for c in breaking] + [c.description for c in dangerous] == []
